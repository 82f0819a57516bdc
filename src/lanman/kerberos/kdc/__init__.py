"""The lanman KDC: sans-IO core (:class:`KdcCore`) and the asyncio UDP/TCP service."""

from lanman.kerberos.kdc.core import KdcConfig, KdcCore

__all__ = ["KdcConfig", "KdcCore"]
