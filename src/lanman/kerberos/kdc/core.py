"""Sans-IO KDC core: ``KdcCore(directory, now).handle(request) -> reply`` (RFC 4120 3.1, 3.3).

The directory is anything that implements the contract in ``lanman.directory``:
``realm``, ``domain``, ``domain_sid``, ``dc_name``, ``dns_domain``, ``find_principal(name)``,
``find_by_spn(spn)``, ``krbtgt()``, ``record_logon_failure(name)``, ``record_logon_success(name)``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lanman.authpolicy.resolve import silo_claim
from lanman.authpolicy.tokens import AUTHENTICATION_AUTHORITY_ASSERTED_IDENTITY, CLAIMS_VALID
from lanman.kerberos import asn1, crypto, der, pac_claims
from lanman.kerberos import pac as P
from lanman.kerberos.asn1 import KDCOptions as KO
from lanman.kerberos.asn1 import TicketFlags as TF
from lanman.kerberos.asn1 import bit
from lanman.kerberos.crypto import KU
from lanman.kerberos.der import Name
from lanman.kerberos.kdc import errors as E
from lanman.kerberos.kdc import wire
from lanman.kerberos.kdc.dircache import DirectoryCache
from lanman.kerberos.kdc.fast import FastState, fast_error_edata, outer_client
from lanman.kerberos.kdc.replay import ReplayCache, ReplayCacheFull

__all__ = ["KdcConfig", "KdcCore", "TicketInfo"]

ETYPE_PREFERENCE = (
    crypto.ETYPE_AES256_CTS_HMAC_SHA1_96,
    crypto.ETYPE_AES128_CTS_HMAC_SHA1_96,
    crypto.ETYPE_RC4_HMAC,
)
MAX_REQUEST = 65536
_log = logging.getLogger("lanman.kdc")


@dataclass(slots=True)
class KdcConfig:
    """KDC policy knobs (MS-KILE 3.3.1 defaults: 10 h tickets, 7 d renewal, 5 min skew)."""

    max_ticket_life: int = 10 * 3600
    max_renew_life: int = 7 * 24 * 3600
    protected_user_life: int = 4 * 3600
    clock_skew: int = 300
    replay_entries: int = 200_000


@dataclass(slots=True)
class TicketInfo:
    """A decrypted ticket the KDC issued (from a PA-TGS-REQ or a FAST armor AP-REQ)."""

    enc: wire.EncTicket
    flags: int
    session_etype: int
    session_key: bytes
    crealm: str
    cname: Name
    authtime: int
    starttime: int | None
    endtime: int
    renew_till: int | None
    pac: P.Pac | None
    sname: Name
    srealm: str


@dataclass(slots=True)
class Request:
    """Per-request state shared between handler steps."""

    msg_type: int
    req_body: wire.ReqBody
    padata: list[tuple[int, bytes]]
    fast: FastState | None = None
    sname: Name | None = None
    cname: Name | None = None
    extra_error_padata: list[tuple[int, bytes]] = field(default_factory=list)
    # The PA-TGS-REQ AP-REQ when the single-pass TGS-REQ reader already parsed it.
    ap_req: wire.ApReq | None = None


def pname(pn: Name) -> str:
    return "/".join(pn.components)


def name_components(pn: Name) -> list[str]:
    return pn.components


def choose_etype(requested: list[int], available: dict[int, bytes] | list[int]) -> int | None:
    for e in requested:
        if e in available:
            return e
    return None


def best_key_etype(keys: dict[int, bytes]) -> int | None:
    for e in ETYPE_PREFERENCE:
        if e in keys:
            return e
    return None


class KdcCore:
    """Stateless apart from the replay cache; one instance serves all requests of a realm."""

    def __init__(
        self,
        directory: Any,
        now: Callable[[], float] = time.time,
        config: KdcConfig | None = None,
    ) -> None:
        self.directory = directory
        self.now = now
        self.config = config or KdcConfig()
        self.realm: str = directory.realm.upper()
        self.replay = ReplayCache(self.config.clock_skew, self.config.replay_entries)
        # Principal lookups go through a cache that is dropped when the directory changes.
        self.dir = DirectoryCache(directory)
        # Tickets this KDC decrypted and PAC-verified, by (etype, ciphertext, krbtgt keys):
        # a client sends the same TGT with every TGS-REQ of its session.  Deterministic (same
        # ciphertext under the same key = same plaintext), so only work is saved; the
        # per-request checks (times, flags, authenticator, replay) run every time.
        self._tickets: dict[tuple, tuple[wire.EncTicket, P.Pac | None]] = {}
        self.ticket_cache_entries = 4096
        self.preauth_failures = 0  # wrong-key PA-ENC-TIMESTAMPs so far (read by the service)
        # Event sink ``emit(name, **fields)`` (the service passes the event log's); None: the
        # events of a request are only kept in ``events`` (tests read them there).
        self.emit: Callable[..., None] | None = None
        self.events: list[tuple[int, dict]] = []
        self.client_address: str | None = None  # of the request being handled
        from lanman.kerberos.kdc import as_req, tgs_req  # (they import this module)

        self._as_handle = as_req.handle
        self._tgs_handle = tgs_req.handle

    # -----------------------------------------------------------------------------------------
    def handle(self, data: bytes, client: str | None = None) -> bytes | None:
        """One request in, one reply out (None: drop, e.g. a non-Kerberos datagram).
        ``client`` is the sender's address, for the events the request may log."""
        now = self.now()
        self.client_address = client
        self.dir.begin_request()
        if len(data) > MAX_REQUEST:
            return E.krb_error(E.KRB_ERR_FIELD_TOOLONG, now=now, realm=self.realm)
        mt = asn1.message_type(data)
        if mt not in (asn1.MSG_AS_REQ, asn1.MSG_TGS_REQ):
            if mt is None:
                return None
            return E.krb_error(
                E.KRB_AP_ERR_MSG_TYPE, now=now, realm=self.realm, e_text="not a KDC request"
            )
        req: Request | None = None
        try:
            try:
                ap = None
                if mt == asn1.MSG_TGS_REQ:
                    msg, ap = wire.parse_tgs_req_fast(data, asn1.PA_TGS_REQ)
                else:
                    msg = wire.parse_kdc_req(data, mt)
                if msg.pvno != 5:
                    raise E.KdcError(E.KDC_ERR_BAD_PVNO, "pvno must be 5")
                if msg.msg_type != mt:
                    raise E.KdcError(E.KRB_AP_ERR_MSG_TYPE, "msg-type mismatch")
                req = Request(msg_type=mt, req_body=msg.body, padata=msg.padata, ap_req=ap)
                if mt == asn1.MSG_AS_REQ:
                    return self._as_handle(self, req, now)
                return self._tgs_handle(self, req, now)
            except E.KdcError:
                raise
            except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
                raise E.KdcError(E.KRB_ERR_GENERIC, f"malformed request: {type(exc).__name__}")
        except E.KdcError as err:
            return self.error_reply(req, err, now)

    # -----------------------------------------------------------------------------------------
    def error_reply(self, req: Request | None, err: E.KdcError, now: float) -> bytes:
        sname = None
        if req is not None:
            sname = req.sname
            if sname is None:
                sname = req.req_body.sname
        e_data: bytes | None = None
        tgs = req is not None and req.msg_type == asn1.MSG_TGS_REQ
        if err.status is not None:
            e_data = E.ext_error_edata(err.status, tgs=tgs)
        elif err.padata is not None:
            e_data = E.method_data(err.padata)
        cname = err.cname
        if cname is None and req is not None and req.cname is not None:
            cname = req.cname
        kwargs: dict[str, Any] = {
            "now": now,
            "realm": self.realm,
            "sname": sname,
            "cname": cname,
            "crealm": err.crealm or (self.realm if cname is not None else None),
            "e_text": err.e_text,
        }
        if req is not None and req.fast is not None:
            inner = E.krb_error(err.code, e_data=e_data, **kwargs)
            fast_padata = list(err.padata or []) if err.status is None else []
            outer_edata = fast_error_edata(req.fast, inner, fast_padata)
            if cname is not None:
                # hide-client-names: the real client only in the armored PA-FX-ERROR, the
                # clear KRB-ERROR names WELLKNOWN/ANONYMOUS (RFC 6113 5.4.1; MIT, Heimdal).
                kwargs["crealm"], kwargs["cname"] = outer_client(req.fast, kwargs["crealm"], cname)
            return E.krb_error(err.code, e_data=outer_edata, **kwargs)
        return E.krb_error(err.code, e_data=e_data, **kwargs)

    # -----------------------------------------------------------------------------------------
    # Shared pieces
    # -----------------------------------------------------------------------------------------
    def report(self, event_id: int, data: dict) -> None:
        """Log catalogue event ``event_id`` (and keep the last few for inspection)."""
        from lanman.events.catalogue import BY_ID

        if len(self.events) >= 64:
            del self.events[:32]
        self.events.append((event_id, data))
        if self.emit is not None:
            try:
                self.emit(BY_ID[event_id].name, **data)
            except Exception:  # noqa: BLE001 - logging must never fail the exchange
                _log.warning("could not log KDC event %s", event_id, exc_info=True)

    def krbtgt_principal_name(self) -> Name:
        return Name(asn1.NT_SRV_INST, ["krbtgt", self.realm])

    def is_local_tgs(self, sname: Name) -> bool:
        comps = sname.components
        return len(comps) == 2 and comps[0].lower() == "krbtgt" and comps[1].upper() == self.realm

    def lookup_service(self, sname: Name) -> Any:
        comps = name_components(sname)
        if not comps:
            return None
        if comps[0].lower() == "krbtgt":
            if len(comps) == 2 and comps[1].upper() == self.realm:
                return self.dir.krbtgt()
            return None
        name = "/".join(comps)
        if len(comps) == 1:
            return self.dir.find_principal(name)
        return self.dir.find_by_spn(name)

    def lookup_client(self, cname: Name) -> Any:
        comps = name_components(cname)
        if not comps:
            return None
        if len(comps) == 1:
            return self.dir.find_principal(comps[0])
        return self.dir.find_by_spn("/".join(comps))

    def check_client_state(self, p: Any, now: float, *, tgs: bool = False) -> None:
        """Account restrictions with Windows' KRB errors and NTSTATUS (MS-KILE 3.3.5.6)."""
        if getattr(p, "disabled", False):
            raise E.KdcError(
                E.KDC_ERR_CLIENT_REVOKED, "account disabled", status=E.STATUS_ACCOUNT_DISABLED
            )
        expires = getattr(p, "expires", None)
        if expires is not None and expires <= now:
            raise E.KdcError(
                E.KDC_ERR_CLIENT_REVOKED, "account expired", status=E.STATUS_ACCOUNT_EXPIRED
            )
        if getattr(p, "locked", False):
            raise E.KdcError(
                E.KDC_ERR_CLIENT_REVOKED, "account locked out", status=E.STATUS_ACCOUNT_LOCKED_OUT
            )
        if not tgs and getattr(p, "password_expired", False):
            raise E.KdcError(
                E.KDC_ERR_KEY_EXPIRED, "password expired", status=E.STATUS_PASSWORD_EXPIRED
            )

    # -- tickets ------------------------------------------------------------------------------
    def decrypt_ticket(self, ticket: wire.TicketMsg, now: float) -> TicketInfo:
        """Decrypt a ticket issued by this KDC for krbtgt/REALM and check its PAC."""
        sname = ticket.sname
        if ticket.tkt_vno != 5:
            raise E.KdcError(E.KRB_AP_ERR_BADVERSION, "ticket version")
        if not self.is_local_tgs(sname) or ticket.realm.upper() != self.realm:
            raise E.KdcError(E.KRB_AP_ERR_NOT_US, "ticket not for krbtgt of this realm")
        tgs = self.dir.krbtgt()
        etype = ticket.etype
        key = tgs.keys.get(etype)
        if key is None:
            raise E.KdcError(E.KRB_AP_ERR_NOKEY, "no krbtgt key for ticket etype")
        kvno = ticket.kvno
        if kvno is not None and tgs.kvno and kvno != tgs.kvno:
            raise E.KdcError(E.KRB_AP_ERR_BADKEYVER, "krbtgt kvno")
        ck = (etype, ticket.cipher, tuple(tgs.keys.items()))
        hit = self._tickets.get(ck)
        if hit is not None:
            etp, pac = hit
            assert etp.cname is not None
            return TicketInfo(
                enc=etp,
                flags=etp.flags,
                session_etype=etp.key[0],
                session_key=etp.key[1],
                crealm=etp.crealm,
                cname=etp.cname,
                authtime=etp.authtime,
                starttime=etp.starttime,
                endtime=etp.endtime,
                renew_till=etp.renew_till,
                pac=pac,
                sname=sname,
                srealm=ticket.realm,
            )
        try:
            plain = crypto.decrypt(etype, key, KU.KDC_REP_TICKET, ticket.cipher)
        except crypto.CryptoError:
            raise E.KdcError(E.KRB_AP_ERR_BAD_INTEGRITY, "ticket integrity") from None
        etp = wire.parse_enc_ticket_part_fast(plain)
        assert etp.cname is not None
        info = TicketInfo(
            enc=etp,
            flags=etp.flags,
            session_etype=etp.key[0],
            session_key=etp.key[1],
            crealm=etp.crealm,
            cname=etp.cname,
            authtime=etp.authtime,
            starttime=etp.starttime,
            endtime=etp.endtime,
            renew_till=etp.renew_till,
            pac=None,
            sname=sname,
            srealm=ticket.realm,
        )
        pac_bytes = find_pac_ad(etp.authorization_data)
        if pac_bytes is not None:
            try:
                pac = P.verify_bytes(
                    pac_bytes, key, tgs.keys.get(best_key_etype(tgs.keys) or etype, key)
                )
            except P.PacError:
                # A PAC signed with another krbtgt key etype: try each key.
                pac = None
                for kk in tgs.keys.values():
                    try:
                        pac = P.verify_bytes(pac_bytes, key, kk)
                        break
                    except P.PacError:
                        continue
                if pac is None:
                    raise E.KdcError(E.KRB_AP_ERR_MODIFIED, "PAC signature") from None
            info.pac = pac
        if len(self._tickets) >= self.ticket_cache_entries:
            self._tickets.clear()
        self._tickets[ck] = (etp, info.pac)
        return info

    def issue_ticket(
        self,
        *,
        flags: int,
        session_etype: int,
        session_key: bytes,
        crealm: str,
        cname: Name | bytes,
        authtime: int,
        starttime: int | None,
        endtime: int,
        renew_till: int | None,
        server: Any,
        sname: Name | bytes,
        pac: P.Pac | None,
        service_ticket: bool,
        caddr: Any = None,
        pac_drop: tuple[int, ...] | None = None,
    ) -> bytes:
        """Build, PAC-sign and encrypt a ticket for ``server``; returns the Ticket's DER."""
        t_etype = best_key_etype(server.keys)
        if t_etype is None:
            raise E.KdcError(E.KDC_ERR_ETYPE_NOSUPP, "service has no usable key")
        s_key = server.keys[t_etype]
        common: dict[str, Any] = {
            "flags_value": flags,
            "key": der.encryption_key(session_etype, session_key),
            "crealm": crealm,
            "cname": pn_der(cname),
            "authtime": authtime,
            "starttime": starttime,
            "endtime": endtime,
            "renew_till": renew_till,
            "caddr": seq_der(caddr) if caddr is not None else None,
        }
        head = der.enc_ticket_part_head(**common)
        authz = None
        if pac is not None:
            tgs = self.dir.krbtgt()
            k_etype = best_key_etype(tgs.keys)
            assert k_etype is not None
            ticket_body = None
            if service_ticket:
                ticket_body = der.enc_ticket_part_finish(head, _PAC_PLACEHOLDER_AD)
            if pac_drop is not None:
                # A verified PAC from a TGT: spliced and re-signed (TGS).
                signed = P.resign(
                    pac.buffers, pac_drop, t_etype, s_key, k_etype, tgs.keys[k_etype], ticket_body
                )
            else:
                signed = pac.sign(t_etype, s_key, k_etype, tgs.keys[k_etype], ticket_body)
            authz = _pac_authdata(signed)
        plain = der.enc_ticket_part_finish(head, authz)
        cipher = crypto.encrypt(t_etype, s_key, KU.KDC_REP_TICKET, plain)
        return der.ticket(
            self.realm, pn_der(sname), der.encrypted_data(t_etype, cipher, server.kvno)
        )

    def build_pac(
        self,
        client: Any,
        authtime: int,
        *,
        requested: bool | None,
        asserted: str = AUTHENTICATION_AUTHORITY_ASSERTED_IDENTITY,
    ) -> P.Pac:
        """A TGT PAC for ``client`` (MS-PAC 2.4; buffers in Windows' order). ``asserted`` is
        the identity-assertion SID Windows adds to ExtraSids (S-1-18-1 for a logon the KDC
        authenticated, S-1-18-2 for S4U2Self); a member of an enforced silo also gets the
        ``ad://ext/AuthenticationSilo`` claim and Claims Valid (MS-KILE 3.3.5.6.4.6)."""
        d = self.directory
        groups = list(client.group_rids) or [513]
        extra = [*client.extra_sids, asserted]
        cfg = self.dir.authn_config()
        silo = silo_claim(client, cfg) if cfg is not None else None
        if silo is not None:
            extra.append(CLAIMS_VALID)
        info = P.LogonInfo(
            logon_time=authtime,
            effective_name=client.name,
            full_name=getattr(client, "full_name", "") or "",
            user_id=client.rid,
            primary_group_id=groups[0],
            group_ids=groups,
            logon_server=(d.dc_name or "").upper().rstrip("$"),
            logon_domain_name=d.domain.upper(),
            logon_domain_id=d.domain_sid,
            user_account_control=_samr_acb(client),
            extra_sids=extra,
        )
        is_computer = client.kind in ("computer",)
        upn = client.upn or f"{client.name}@{d.dns_domain}"
        buffers = [
            (P.PAC_LOGON_INFO, P.build_logon_info(info)),
            (P.PAC_CLIENT_INFO, P.client_info(authtime, client.name)),
            (
                P.PAC_UPN_DNS_INFO,
                P.upn_dns_info(upn, d.dns_domain.upper(), client.name, client.sid),
            ),
            *([(P.PAC_CLIENT_CLAIMS, pac_claims.silo_claim(silo))] if silo is not None else []),
            (
                P.PAC_ATTRIBUTES_INFO,
                P.attributes_info(P.PAC_WAS_REQUESTED if requested else P.PAC_WAS_GIVEN_IMPLICITLY),
            ),
            (P.PAC_REQUESTOR, P.sid_to_bytes(client.sid)),
        ]
        del is_computer
        return P.Pac(buffers)

    # -- AP-REQ in PA-TGS-REQ / FAST armor ----------------------------------------------------
    def verify_ap_req(
        self,
        ap_bytes: bytes,
        now: float,
        usage: int,
        *,
        check_replay: bool = True,
        parsed: wire.ApReq | None = None,
    ) -> tuple[TicketInfo, wire.Authenticator]:
        ap = parsed if parsed is not None else wire.parse_ap_req(ap_bytes)
        if ap.pvno != 5 or ap.msg_type != asn1.MSG_AP_REQ:
            raise E.KdcError(E.KRB_AP_ERR_MSG_TYPE, "not an AP-REQ")
        tkt = self.decrypt_ticket(ap.ticket, now)
        if ap.auth_etype != tkt.session_etype:
            raise E.KdcError(E.KRB_AP_ERR_BAD_INTEGRITY, "authenticator etype")
        cipher = ap.auth_cipher
        try:
            plain = crypto.decrypt(tkt.session_etype, tkt.session_key, usage, cipher)
        except crypto.CryptoError:
            raise E.KdcError(E.KRB_AP_ERR_BAD_INTEGRITY, "authenticator integrity") from None
        auth = wire.parse_authenticator_fast(plain)
        if (
            auth.crealm.upper() != tkt.crealm.upper()
            or auth.cname.components != tkt.cname.components  # type: ignore[union-attr]
        ):
            raise E.KdcError(E.KRB_AP_ERR_BADMATCH, "authenticator client mismatch")
        ctime = auth.ctime
        if abs(ctime - now) > self.config.clock_skew:
            raise E.KdcError(E.KRB_AP_ERR_SKEW, "clock skew too great")
        if tkt.flags & bit(TF.invalid):
            raise E.KdcError(E.KRB_AP_ERR_TKT_NYV, "ticket invalid")
        if check_replay:
            try:
                fresh = self.replay.check_and_store(cipher, "krbtgt", now)
            except ReplayCacheFull:
                raise E.KdcError(E.KDC_ERR_SVC_UNAVAILABLE, "replay cache full") from None
            if not fresh:
                raise E.KdcError(E.KRB_AP_ERR_REPEAT, "request is a replay")
        return tkt, auth

    def lifetimes(
        self,
        body: wire.ReqBody,
        now: int,
        *,
        options: int,
        max_end: int | None,
        max_renew: int | None,
        life_cap: int,
    ) -> tuple[int, int | None, int]:
        """(endtime, renew_till, extra-flags) from till/rtime and the caps (RFC 4120 3.1.3)."""
        till = body.till or 0
        if not till:  # 19700101000000Z / absent: "as long as possible"
            till = now + life_cap
        endtime = min(till, now + life_cap)
        if max_end is not None:
            endtime = min(endtime, max_end)
        if endtime <= now - self.config.clock_skew:
            raise E.KdcError(E.KDC_ERR_NEVER_VALID, "requested end time is in the past")
        renew_till: int | None = None
        extra = 0
        want_renew = options & bit(KO.renewable)
        if not want_renew and options & bit(KO.renewable_ok) and till > endtime:
            want_renew = 1
            rtime = till
        else:
            rtime = body.rtime or 0
            if not rtime:
                rtime = now + self.config.max_renew_life
        if want_renew and (max_renew is None or max_renew > now):
            renew_till = min(rtime, now + self.config.max_renew_life)
            if max_renew is not None:
                renew_till = min(renew_till, max_renew)
            renew_till = max(renew_till, endtime)
            extra |= bit(TF.renewable)
        return endtime, renew_till, extra

    def session_key(self, etype: int) -> bytes:
        return os.urandom(crypto.key_length(etype))


def _pac_authdata(pac_bytes: bytes) -> bytes:
    """AuthorizationData{AD-IF-RELEVANT{AD-WIN2K-PAC}} (DER)."""
    inner = der.authorization_data([(asn1.AD_WIN2K_PAC, pac_bytes)])
    return der.authorization_data([(asn1.AD_IF_RELEVANT, inner)])


_PAC_PLACEHOLDER_AD = _pac_authdata(b"\x00")


def pn_der(pn: Name | asn1.PrincipalName | bytes) -> bytes:
    """The DER of a PrincipalName (a :class:`Name`, an asn1crypto value, or already DER)."""
    if isinstance(pn, Name):
        return pn.der
    if isinstance(pn, bytes):
        return pn
    return der.tlv(0x30, pn.contents or b"")


def seq_der(value: Any) -> bytes:
    """The DER of an asn1crypto SEQUENCE / SEQUENCE OF value without any explicit field tag."""
    if isinstance(value, bytes):
        return value
    return der.tlv(0x30, value.contents or b"")


def find_pac_ad(ad: list[tuple[int, bytes]]) -> bytes | None:
    """The PAC in an EncTicketPart's authorization-data (inside AD-IF-RELEVANT)."""
    for ad_type, ad_data in ad:
        if ad_type == asn1.AD_IF_RELEVANT:
            for sub_type, sub_data in wire.parse_ad(ad_data, der.whole(ad_data)):
                if sub_type == asn1.AD_WIN2K_PAC:
                    return sub_data
    return None


def find_pac(etp: asn1.EncTicketPart) -> bytes | None:
    ad = etp["authorization-data"]
    if ad.native is None:
        return None
    for el in ad:
        if el["ad-type"].native == asn1.AD_IF_RELEVANT:
            inner = asn1.AuthorizationData.load(el["ad-data"].native)
            for sub in inner:
                if sub["ad-type"].native == asn1.AD_WIN2K_PAC:
                    return sub["ad-data"].native
    return None


def _samr_acb(client: Any) -> int:
    """KERB_VALIDATION_INFO.UserAccountControl uses SAMR ACB bits (MS-SAMR 2.2.1.12)."""
    kind = getattr(client, "kind", "user")
    acb = 0x80 if kind == "computer" else 0x10  # WSTRUST / NORMAL
    uac = getattr(client, "uac", 0) or 0
    if uac & 0x2000:
        acb = 0x100  # SVRTRUST
    if uac & 0x10000:
        acb |= 0x200  # DONT_EXPIRE_PASSWORD
    if uac & 0x20:
        acb |= 0x4  # PWNOTREQ
    if uac & 0x400000:
        acb |= 0x10000  # DONT_REQUIRE_PREAUTH
    if uac & 0x80000:
        acb |= 0x2000  # TRUSTED_FOR_DELEGATION
    if uac & 0x100000:
        acb |= 0x4000  # NOT_DELEGATED
    if uac & 0x1000000:
        acb |= 0x100000  # TRUSTED_TO_AUTHENTICATE_FOR_DELEGATION
    return acb
