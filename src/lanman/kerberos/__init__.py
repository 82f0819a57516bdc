"""Kerberos 5: crypto (RFC 3961/3962/4757), ASN.1 (RFC 4120/6113), MS-PAC and the KDC."""
