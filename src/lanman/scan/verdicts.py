"""Verdicts: what a Windows client of a given profile shows when it connects to a scanned
server, and the remedy for that server's family.

One source of truth: the client side is :class:`lanman.policy.matrix.Party` (the profile's
effective client policy), the rules are :mod:`lanman.policy.decisions` and the codes are the
rows of :mod:`lanman.policy.matrix` — the same ones :func:`~lanman.policy.matrix.expected_outcome`
uses. The server side is what the scan observed instead of a server profile. The unit tests
check that, for a server observed as a profile would behave, :func:`predict` gives exactly
``expected_outcome``'s cell.

Scenario: ``user`` (an account on the server) when credentials were given or the server
offers no guest session; ``guest`` when the scan had no credentials and the server gave an
unknown account a guest session (the NAS "everyone can read" share the 24H2 threads are about).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lanman.errors import ntstatus as nts
from lanman.errors import win32
from lanman.errors.explain import FAILURES, SIGNING_KEYS, Remedy, explain_for_family
from lanman.policy.matrix import (
    ERROR_NETNAME_DELETED,
    SMB1,
    SMB2,
    STATUS_INVALID_SIGNATURE,
    Outcome,
    Party,
    smb1_pair_outcome,
    smb2_guest_refusal,
)
from lanman.policy.profiles import get_profile
from lanman.scan.model import HostResult
from lanman.scan.probes import dialect_name

__all__ = ["ServerFacts", "Verdict", "facts_from", "predict", "remedies_for", "verdicts_for"]

STATUSES = ("works", "fails", "unreachable")
#: families whose SMB server is known not to sign NTLM sessions (no mechListMIC;
#: fortra/impacket#1883), so that a signing client fails even when the scan had no account
CANNOT_SIGN_FAMILIES = frozenset({"impacket"})
ERROR_BAD_NETPATH = (53, None, "bad_netpath")


@dataclass(frozen=True, slots=True)
class ServerFacts:
    """The server side of a verdict, as observed (or as a profile would behave)."""

    smb2_dialects: tuple[int, ...]  # offered
    smb2_required: dict[int, bool]  # SIGNING_REQUIRED per offered dialect
    smb1_offered: bool
    smb1_state: str  # disabled | enabled | required
    scenario: str  # user | guest
    server_signs: bool = True
    user_failure: tuple | None = None  # (code, ntstatus, key, name, stage) seen with --user
    #: why the server does not sign (an explanation key; None: the matrix row's), and whether
    #: that was inferred from the recognised family instead of observed with --user
    sign_failure_key: str | None = None
    sign_failure_inferred: bool = False


def facts_from(host: HostResult, *, credentials: bool) -> ServerFacts:
    offered = tuple(d.dialect for d in host.smb2_offered)
    required = {d.dialect: bool(d.signing_required) for d in host.smb2_offered}
    scenario = "guest" if (not credentials and host.guest_accepted) else "user"
    server_signs = True
    user_failure = None
    sign_key, inferred = None, False
    u = host.user
    if credentials and u is not None and u.attempted and not (u.accepted and not u.status):
        if u.key in ("server_will_not_sign", "bad_signature", "server_cannot_sign"):
            server_signs = False
            sign_key = u.key
        elif u.status is not None:
            user_failure = (u.code, u.status, u.key, u.name, _stage(u.detail))
    if credentials and u is not None and u.accepted and u.session == "guest":
        scenario = "guest"  # the account was mapped to guest: that is what a client gets
    if not credentials and scenario == "user" and host.family in CANNOT_SIGN_FAMILIES:
        # not tried (no --user), but this family's NTLM cannot sign: a client that requires
        # signing fails as lanman client does against it
        server_signs, sign_key, inferred = False, "server_cannot_sign", True
    return ServerFacts(
        offered,
        required,
        bool(host.smb1 and host.smb1.offered),
        (host.smb1.signing or "disabled") if host.smb1 and host.smb1.offered else "disabled",
        scenario,
        server_signs,
        user_failure,
        sign_key,
        inferred,
    )


def _stage(detail: str) -> str:
    head = detail.split(":", 1)[0].strip().upper()
    return {
        "NEGOTIATE": "negotiate",
        "SESSION_SETUP": "session setup",
        "TREE_CONNECT": "tree connect",
    }.get(head, head.lower())


def _fail(family: str, stage: str, row: tuple, note: str) -> Outcome:
    """An Outcome from a matrix row (code shown, NTSTATUS, explanation key)."""
    code, status, key = row
    if code == status:
        e = nts.lookup(code)
        name, text = e.name, e.message
    else:
        w = win32.lookup(code)
        name, text = w.name, w.message
    return Outcome(False, family, False, stage, code, name, text, status, key, note=note)


def predict(client_profile: str, facts: ServerFacts) -> Outcome:
    """What ``client_profile`` shows against a server with these facts (the same branches
    as :func:`lanman.policy.matrix.expected_outcome`, server side observed)."""
    c = Party.of(client_profile)
    guest = facts.scenario == "guest"
    use_smb1 = c.smb1_only or not facts.smb2_dialects
    if use_smb1:
        if not facts.smb1_offered:
            if not c.smb1_only:
                return _fail(
                    SMB2,
                    "negotiate",
                    (53, None, "bad_netpath"),
                    "no SMB dialect this client speaks",
                )
            return _fail(
                SMB1, "negotiate", ERROR_NETNAME_DELETED, "SMB1-only client, server with SMB1 off"
            )
        outcome = smb1_pair_outcome(c.client_smb1_state, facts.smb1_state, guest=guest)
        if outcome.ok and not guest and facts.user_failure is not None:
            return _observed_failure(SMB1, facts.user_failure)
        return outcome

    dialect = max(facts.smb2_dialects)
    creq, sreq = c.client.require_signing, facts.smb2_required.get(dialect, False)
    if guest:
        refused = smb2_guest_refusal(c.client.insecure_guest_allowed, creq)
        if refused is not None:
            return refused
        return Outcome(
            True,
            SMB2,
            False,
            note="§5: guest sessions are never signed",
            dialect=dialect_name(dialect),
        )
    if not facts.server_signs:
        code, status, key = STATUS_INVALID_SIGNATURE
        key = facts.sign_failure_key or key
        note = "§5: the server did not sign the final SESSION_SETUP response"
        if key == "server_cannot_sign":
            note = "the server sends no valid SPNEGO mechListMIC: its NTLM cannot sign"
            if not (creq or sreq):
                # no signing required: the logon is still refused for the missing mechListMIC
                code, status, key = 5, nts.STATUS_ACCESS_DENIED, "server_mechlistmic"
        if facts.sign_failure_inferred:
            note += " (inferred from the server family; confirm with --user)"
        return _fail(SMB2, "session setup", (code, status, key), note)
    if facts.user_failure is not None:
        return _observed_failure(SMB2, facts.user_failure)
    return Outcome(
        True, SMB2, bool(creq or sreq), note="§4.1 SMB2/3 matrix", dialect=dialect_name(dialect)
    )


def _observed_failure(family: str, failure: tuple) -> Outcome:
    code, status, key, name, stage = failure
    text = ""
    if key and key in FAILURES:
        text = FAILURES[key].message
    elif status is not None:
        text = nts.lookup(status).message
    return Outcome(
        False,
        family,
        False,
        stage,
        code,
        name,
        text,
        status,
        key,
        note="observed with the given credentials",
    )


# ---- remedies ---------------------------------------------------------------------------------


def _how(r: Remedy, family: str) -> list[str]:
    """The lines of a remedy that fit the server family (client remedies are Windows)."""
    if r.side == "client":
        return [
            x
            for x in (
                r.group_policy and f"Group Policy: {r.group_policy}",
                r.powershell and f"PowerShell: {r.powershell}",
            )
            if x
        ]
    if family == "samba":
        picks = [("smb.conf", r.smb_conf), ("Vendor", r.vendor)]
    elif family == "windows":
        picks = [("Group Policy", r.group_policy), ("PowerShell", r.powershell)]
    elif family == "lanman":
        picks = [("lanman", r.lanman)]
    else:
        picks = []
    return [f"{label}: {v}" for label, v in picks if v]


#: ERROR_NETNAME_DELETED for an SMB1-only client has no entry in lanman.errors.explain (the
#: matrix gives it no key); the scanner still owes the administrator a way out.
_SMB1_ONLY_CLIENT = (
    Remedy(
        side="server",
        summary="this client speaks SMB1 only: offer SMB1 on the server (insecure; prefer "
        "replacing the client)",
        group_policy="",
        powershell="Set-SmbServerConfiguration -EnableSMB1Protocol $true",
        smb_conf="server min protocol = NT1",
        lanman="lanman smb server-config set --enable-smb1-protocol true",
    ),
    Remedy(side="client", summary="replace or upgrade the SMB1-only client (SMB2/3 capable)"),
)
_EXTRA = {"smb1_only_client": _SMB1_ONLY_CLIENT}


def remedies_for(key: str | None, family: str) -> list[dict[str, object]]:
    """Server remedies first (for the recognised family, else the generic summary), then the
    client-side ones; from :data:`lanman.errors.explain.FAILURES`."""
    if key in _EXTRA:
        found = _EXTRA[key]
    elif key in SIGNING_KEYS:
        found = explain_for_family(key, family).remedies  # type: ignore[union-attr]
    elif key and key in FAILURES:
        found = FAILURES[key].remedies
    else:
        return []
    out = []
    rs = sorted(found, key=lambda r: r.side != "server")
    for r in rs:
        out.append({"side": r.side, "summary": r.summary, "how": _how(r, family)})
    return out


def relay_remedy(family: str) -> list[dict[str, object]]:
    return [r for r in remedies_for("server_will_not_sign", family) if r["side"] == "server"]


# ---- verdicts ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Verdict:
    profile: str
    status: str  # works | fails | unreachable
    scenario: str
    outcome: Outcome
    remedies: list[dict[str, object]] = field(default_factory=list)

    @property
    def works(self) -> bool:
        return self.status == "works"

    @property
    def label(self) -> str:
        """Short text for tables: "works (signed)" / "fails 1272 ERROR_SMB_GUEST_..."."""
        if self.status == "works":
            return f"works ({self.outcome.cell})"
        return f"{self.status}: {self.outcome.cell}"

    def as_dict(self) -> dict[str, object]:
        o = self.outcome
        return {
            "profile": self.profile,
            "status": self.status,
            "works": self.works,
            "scenario": self.scenario,
            "family": o.family or None,
            "signed": o.signed,
            "dialect": o.dialect or None,
            "stage": o.stage or None,
            "code": o.code,
            "code_display": o.code_display or None,
            "name": o.name or None,
            "text": o.text or None,
            "ntstatus": None if o.ntstatus is None else f"0x{o.ntstatus:08X}",
            "key": o.key,
            "cell": o.cell,
            "note": o.note or None,
            "remedies": self.remedies,
        }


def verdicts_for(host: HostResult, profiles, *, credentials: bool) -> list[Verdict]:
    out = []
    for p in profiles:
        name = get_profile(p).name
        if not host.reachable or not host.speaks_smb:
            o = _fail("", "connect", ERROR_BAD_NETPATH, host.error or "no SMB answer")
            out.append(
                Verdict(name, "unreachable", "", o, remedies_for("bad_netpath", host.family))
            )
            continue
        facts = facts_from(host, credentials=credentials)
        o = predict(name, facts)
        status = "works" if o.ok else "fails"
        key = o.key or ("smb1_only_client" if o.code == ERROR_NETNAME_DELETED[0] else None)
        out.append(
            Verdict(name, status, facts.scenario, o, [] if o.ok else remedies_for(key, host.family))
        )
    return out
