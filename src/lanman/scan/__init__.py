"""``lanman scan``: probe SMB servers and say what a Windows client of a chosen profile sees.

* :mod:`~lanman.scan.targets` — target specifications (host, address, CIDR, host:port, @file);
* :mod:`~lanman.scan.probes` — sans-IO NEGOTIATE / SESSION_SETUP / srvsvc codecs;
* :mod:`~lanman.scan.scanner` — sockets, per-host deadline, bounded worker pool;
* :mod:`~lanman.scan.verdicts` — per-profile verdicts from :mod:`lanman.policy` and remedies;
* :mod:`~lanman.scan.report` — table, JSON, CSV and HTML renderers.
"""
