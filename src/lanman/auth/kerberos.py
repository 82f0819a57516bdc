"""Kerberos as an SMB authentication mechanism: acceptor and initiator objects with the shape
of :class:`~lanman.auth.ntlm.NtlmAcceptor` / :class:`~lanman.auth.ntlm.NtlmInitiator`
(``step()``, ``result`` / ``session_key``, ``sign()`` / ``verify()`` for the SPNEGO
mechListMIC).

The SMB session key is the GSS context key (MS-KILE 3.4.5.1 / RFC 4121 2): the acceptor's
subkey when the AP-REP carries one (lanman always sends one), else the authenticator subkey,
else the ticket session key. MS-SMB2 3.2.5.3.1 / 3.3.5.5.3 take its first 16 bytes.
"""

from __future__ import annotations

import logging
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

from lanman.auth.ntlm import AuthError, AuthResult
from lanman.errors.ntstatus import STATUS_INVALID_PARAMETER, STATUS_LOGON_FAILURE
from lanman.kerberos import gssapi
from lanman.kerberos.gssapi import (
    KRB5_MECH_OID,
    TOK_AP_REP,
    TOK_AP_REQ,
    AcceptedContext,
    InitiatorContext,
    KrbApError,
)

__all__ = ["KerberosAcceptor", "KerberosInitiator", "ServiceTicket"]

log = logging.getLogger("lanman.auth.kerberos")

AD_WIN2K_PAC = 128
PAC_SERVER_CHECKSUM = 6


class _MicTokens:
    """RFC 4121 4.2.6.1 MIC tokens over the SPNEGO mechListMIC, for either role."""

    is_acceptor: bool = False
    context: object | None
    _send_seq: int

    def sign(self, data: bytes) -> bytes:
        ctx = self.context
        assert ctx is not None
        mic = gssapi.make_mic(
            ctx.context_key,
            self._send_seq,
            data,
            from_acceptor=self.is_acceptor,
            acceptor_subkey=ctx.acceptor_subkey is not None,
        )
        self._send_seq = (self._send_seq + 1) & 0xFFFFFFFF
        return mic

    def verify(self, data: bytes, mic: bytes) -> bool:
        ctx = self.context
        if ctx is None:
            return False
        try:
            gssapi.verify_mic(
                ctx.context_key,
                mic,
                data,
                from_acceptor=not self.is_acceptor,
                acceptor_subkey=ctx.acceptor_subkey is not None,
            )
        except KrbApError:
            return False
        return True

    def reset_crypto(self) -> None:
        """Nothing to reset (NTLM's RC4 state has no Kerberos counterpart)."""


class KerberosAcceptor(_MicTokens):
    """Server side of the Kerberos GSS mechanism (one AP-REQ in, one AP-REP out).

    ``lookup_key(sname, realm, etype, kvno)`` returns the service's long-term key;
    ``domain`` is the NetBIOS domain reported as the session's domain.
    """

    is_acceptor = True

    mech_name = "Kerberos"

    def __init__(
        self,
        lookup_key: gssapi.KeyLookup,
        *,
        realm: str,
        domain: str = "",
        replay: Any = None,
        skew: float = gssapi.DEFAULT_SKEW,
        now: Callable[[], float] = time.time,
        acceptor_subkey: bool = True,
        on_logon: Callable[[AcceptedContext], None] | None = None,
    ) -> None:
        self.lookup_key = lookup_key
        self.realm = realm
        self.domain = domain or realm.split(".")[0].upper()
        self.replay = replay
        self.skew = skew
        self.now = now
        self.use_acceptor_subkey = acceptor_subkey
        self.on_logon = on_logon
        self.context: AcceptedContext | None = None
        self.result: AuthResult | None = None
        self.error: KrbApError | None = None
        self.error_token: bytes = b""
        self._send_seq = 0
        self._service_key: bytes | None = None
        self._pac_sids: tuple[str, ...] = ()

    @property
    def can_sign(self) -> bool:
        return self.context is not None and self.context.context_key[0] != 23

    def step(self, token: bytes) -> bytes | None:
        """Consume the (GSS-framed or raw) AP-REQ; return the GSS-framed AP-REP."""
        if self.result is not None:
            raise AuthError(STATUS_INVALID_PARAMETER, "Kerberos context already established")
        now = self.now()
        try:
            token = bytes(token)
            if token[:1] == b"\x60":
                oid, tok_id, message = gssapi.unwrap_token(token)
                if tok_id != TOK_AP_REQ:
                    raise KrbApError(gssapi.KRB_AP_ERR_MSG_TYPE, "first token is not an AP-REQ")
            else:  # a raw AP-REQ (some SPNEGO initiators omit the framing)
                oid, message = KRB5_MECH_OID, token
            ctx = gssapi.accept_ap_req(
                message,
                self._lookup,
                now=now,
                skew=self.skew,
                replay=self.replay,
                expected_realm=self.realm,
            )
            self._check_pac(ctx)
            ctx.mech_oid = oid
            ap_rep = gssapi.make_ap_rep(ctx, acceptor_subkey=self.use_acceptor_subkey)
        except KrbApError as e:
            self.error = e
            self.error_token = gssapi.krb_error_token(e, self.realm, now=now)
            log.info("Kerberos AP-REQ rejected: %s", e)
            raise AuthError(STATUS_LOGON_FAILURE, f"Kerberos: {e}") from None
        self.context = ctx
        self._send_seq = ctx.acceptor_seq
        user = ctx.cname[0] if len(ctx.cname) == 1 else "/".join(ctx.cname)
        key_etype, key = ctx.context_key
        self.result = AuthResult(
            user=user,
            domain=self.domain,
            session_key=key,
            is_guest=False,
            is_anonymous=False,
            workstation="",
            sids=self._pac_sids,
        )
        log.info(
            "Kerberos logon: %s to %s (session key %s)",
            ctx.client_principal,
            ctx.service_principal,
            gssapi.crypto.etype_name(key_etype),
        )
        if self.on_logon is not None:
            self.on_logon(ctx)
        return gssapi.wrap_token(TOK_AP_REP, ap_rep)

    def _lookup(self, sname, realm, etype, kvno):
        self._service_key = self.lookup_key(sname, realm, etype, kvno)
        self._service_etype = etype
        return self._service_key

    def _check_pac(self, ctx: AcceptedContext) -> None:
        """The PAC's server signature must verify with the service key (MS-PAC 2.8.1)."""
        from lanman.kerberos import crypto
        from lanman.kerberos.pac import Pac, PacError

        for ad_type, data in ctx.authorization_data:
            if ad_type != AD_WIN2K_PAC:
                continue
            try:
                pac = Pac.parse(data)
                srv = pac.get(PAC_SERVER_CHECKSUM)
                if srv is None or len(srv) < 4:
                    raise PacError("no server signature")
                ctype = struct.unpack_from("<i", srv)[0]
                siglen = 16 if ctype == crypto.CKSUM_HMAC_MD5 else 12
                ok = crypto.verify_checksum(
                    ctype,
                    self._service_key,
                    crypto.KU.APP_DATA_CKSUM,
                    pac._zeroed(),
                    srv[4 : 4 + siglen],
                )
            except (PacError, crypto.CryptoError, ValueError, struct.error) as e:
                raise KrbApError(gssapi.KRB_AP_ERR_MODIFIED, f"bad PAC: {e}") from None
            if not ok:
                raise KrbApError(gssapi.KRB_AP_ERR_MODIFIED, "PAC server signature mismatch")
            self._pac_sids = _pac_sids(pac)


def _pac_sids(pac) -> tuple[str, ...]:
    """The token SIDs of a verified PAC's logon information (MS-PAC 2.5), service-ticket
    form (resource groups included); () when it has none or it does not decode."""
    from lanman.kerberos.pac import PAC_LOGON_INFO
    from lanman.kerberos.pac_logon import identity_sids, parse_logon_info
    from lanman.kerberos.pac_ndr import PacFormatError

    data = pac.get(PAC_LOGON_INFO)
    if data is None:
        return ()
    try:
        return tuple(identity_sids(parse_logon_info(data), include_resource_groups=True))
    except (PacFormatError, ValueError, struct.error):
        return ()


class ServiceTicket:
    """A service ticket and its session key, as the initiator needs it."""

    __slots__ = ("cname", "crealm", "session_key", "sname", "ticket")

    def __init__(
        self, ticket, session_key: tuple[int, bytes], crealm: str, cname, sname: str = ""
    ) -> None:
        self.ticket = ticket
        self.session_key = session_key
        self.crealm = crealm
        self.cname = cname
        self.sname = sname

    @classmethod
    def from_credentials(cls, creds, sname: str = "") -> ServiceTicket:
        return cls(
            creds.ticket, (creds.session_etype, creds.session_key), creds.crealm, creds.cname, sname
        )


class KerberosInitiator(_MicTokens):
    """Client side: AP-REQ from a service ticket, AP-REP check, MIC sign/verify."""

    mech_name = "Kerberos"

    def __init__(
        self,
        ticket: ServiceTicket,
        *,
        mech_oid: str = gssapi.MS_KRB5_MECH_OID,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.ticket = ticket
        self.mech_oid = mech_oid
        self.now = now
        self.context: InitiatorContext | None = None
        self._send_seq = 0
        self._lock = threading.Lock()

    @property
    def user(self) -> str:
        try:
            return "/".join(self.ticket.cname["name-string"].native)
        except (KeyError, TypeError):
            return ""

    def step(self, token: bytes | None) -> bytes | None:
        """None -> the GSS AP-REQ token; then the server's AP-REP -> None."""
        if self.context is None:
            t = self.ticket
            ap, self.context = gssapi.make_ap_req(
                t.ticket, t.session_key, t.crealm, t.cname, now=self.now()
            )
            self._send_seq = self.context.initiator_seq
            return gssapi.wrap_token(TOK_AP_REQ, ap)
        if token is None:
            raise AuthError(STATUS_LOGON_FAILURE, "Kerberos: the server sent no AP-REP")
        try:
            _, tok_id, message = gssapi.unwrap_token(token)
            if tok_id not in (gssapi.TOK_AP_REP, gssapi.TOK_KRB_ERROR):
                raise KrbApError(gssapi.KRB_AP_ERR_MSG_TYPE, "expected an AP-REP")
            gssapi.parse_ap_rep(message, self.context)
        except KrbApError as e:
            raise AuthError(STATUS_LOGON_FAILURE, f"Kerberos: {e}") from None
        return None

    @property
    def established(self) -> bool:
        return self.context is not None and self.context.established

    @property
    def session_key(self) -> bytes:
        assert self.context is not None
        return self.context.context_key[1]
