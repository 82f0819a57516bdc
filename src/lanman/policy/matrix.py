"""``lanman smb matrix``: every (client profile, server profile) pair, for real and on paper.

Two halves that the test suite compares cell by cell:

* :func:`expected_outcome` — pure, written from docs/SOURCES.md signing §3–5 (the SMB1 signing
  table and KB 887429 scenarios, the SMB2/3 "either side requires -> signed" rule, the guest
  rules and the exact codes of §5.2). No sockets, no lanman server or client code.
* :func:`run_matrix` — starts lanman's SMB server once per server profile on 127.0.0.1 (a
  random port, an asyncio loop in a background thread), then connects lanman's real client
  to it once per client profile and scenario, and records what the client shows.

Decisions (the documents do not settle them; see the README "The matrix"):

* A profile whose ``dialects`` is "SMB1 only" (nt4-sp3*, win98, win2000*, xp, server2003*)
  speaks NT LM 0.12 only, as client and as server. Its server's SecurityMode comes from its
  Enable/RequireSecuritySignature values (3 / 7 / 15, KB 887429); win98 has no signing server
  (SecurityMode 3).
* A modern client (win10, win11-24h2-*, server2025*) uses SMB2/3, and falls back to its SMB1
  client with its LanmanWorkstation Enable/Require values when the server speaks SMB1 only
  (the SMB1 client feature is assumed installed).
* A modern server keeps SMB1 off (EnableSMB1Protocol default, as modern Windows): an SMB1-only
  client is disconnected after NEGOTIATE and shows System error 64. ``smb1_servers=True``
  (``--smb1-server on``) switches SMB1 on for modern servers as Set-SmbServerConfiguration
  -EnableSMB1Protocol $true would; their SMB1 SecurityMode then follows LanmanServer values.
* Scenario "user": a valid account. Scenario "guest": the server offers only guest (an unknown
  account, "map to guest = bad user", a guest-ok share).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Self

from lanman.errors import ntstatus as nts
from lanman.errors import win32
from lanman.policy.catalogue import by_name
from lanman.policy.decisions import (
    guest_logon_allowed,
    smb1_signing_outcome,
    smb1_state,
)
from lanman.policy.effective import ClientPolicy, ServerPolicy, client_policy, server_policy
from lanman.policy.layers import HostPolicy
from lanman.policy.profiles import PROFILES, get_profile

__all__ = [
    "HOST",
    "SCENARIOS",
    "MatrixCell",
    "MatrixServer",
    "Outcome",
    "Party",
    "expected_outcome",
    "expected_table",
    "host_policy",
    "is_smb1_only",
    "profile_names",
    "run_matrix",
    "run_pair",
    "server_settings_for",
]

HOST = "127.0.0.1"
SCENARIOS = ("user", "guest")
USER = "matrixuser"
PASSWORD = "Matrix-Passw0rd!"
GUEST_USER = "matrix-unknown"  # no such account: "map to guest = bad user" makes it a guest
GUEST_PASSWORD = "whatever"
SHARE = "data"

Overrides = Mapping[str, int] | None


# ---- profiles and policies -----------------------------------------------------------------


def profile_names() -> list[str]:
    """All profiles, in catalogue order (the rows and columns of the full matrix)."""
    return list(PROFILES)


def is_smb1_only(profile: str) -> bool:
    return get_profile(profile).dialects == "SMB1 only"


def host_policy(profile: str, overrides: Overrides = None) -> HostPolicy:
    """A host running ``profile`` with ``overrides`` ({catalogue name: data}) in its local
    layer (``reg add`` / ``Set-Smb*Configuration``)."""
    host = HostPolicy(profile_name=get_profile(profile).name)
    for name, value in (overrides or {}).items():
        host.local.set_catalogue(by_name(name), int(value), "local")
    return host


@dataclass(frozen=True, slots=True)
class Party:
    """One end of a pair: the profile, its effective client and server policy."""

    profile: str
    client: ClientPolicy
    server: ServerPolicy
    smb1_only: bool

    @classmethod
    def of(cls, profile: str, overrides: Overrides = None) -> Party:
        host = host_policy(profile, overrides)
        return cls(
            host.profile_name, client_policy(host), server_policy(host), is_smb1_only(profile)
        )

    @property
    def client_smb1_state(self) -> str:
        return smb1_state(self.client.enable_signing, self.client.require_signing)

    @property
    def server_smb1_state(self) -> str:
        return smb1_state(self.server.enable_signing, self.server.require_signing)


# ---- outcomes ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one connection attempt ended, as the client shows it.

    ``code`` is the primary code Windows shows: a Win32 / HRESULT value (``net use``: "System
    error N has occurred.") or, for STATUS_INVALID_SIGNATURE, the NTSTATUS itself.
    """

    ok: bool
    family: str  # "SMB2/3" | "SMB1"
    signed: bool = False
    stage: str = ""  # negotiate | session setup | tree connect ("" on success)
    code: int | None = None
    name: str = ""
    text: str = ""
    ntstatus: int | None = None
    key: str | None = None  # lanman.errors.explain key, when there is one
    dialect: str = ""  # observed only
    note: str = ""  # citation (expected) or detail (observed); not compared

    @property
    def code_display(self) -> str:
        if self.code is None:
            return ""
        if self.ntstatus is not None and self.code == self.ntstatus:
            return f"0x{self.code:08X}"  # an NTSTATUS, shown in hex (0xc000a000)
        return str(self.code)  # net use prints decimal, 0xC05D0003 as 3227320323

    @property
    def cell(self) -> str:
        """The short form compared and printed: "signed" | "unsigned" | "<code> <NAME>"."""
        if self.ok:
            return "signed" if self.signed else "unsigned"
        return f"{self.code_display} {self.name}"

    def comparable(self) -> tuple:
        return (self.ok, self.family, self.signed, self.stage, self.code, self.name, self.text)

    def as_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "cell": self.cell,
            "family": self.family,
            "signed": self.signed,
            "stage": self.stage or None,
            "code": self.code,
            "code_display": self.code_display or None,
            "name": self.name or None,
            "text": self.text or None,
            "ntstatus": None if self.ntstatus is None else f"0x{self.ntstatus:08X}",
            "key": self.key,
            "dialect": self.dialect or None,
            "note": self.note or None,
        }


SMB2 = "SMB2/3"
SMB1 = "SMB1"


def _failure(
    family: str, stage: str, code: int, ntstatus: int, key: str | None, note: str
) -> Outcome:
    if code == ntstatus:
        e = nts.lookup(code)
        name, text = e.name, e.message
    else:
        w = win32.lookup(code)
        name, text = w.name, w.message
    return Outcome(False, family, False, stage, code, name, text, ntstatus, key, note=note)


# ---- the expected table, from the documents ----------------------------------------------------

#: docs/SOURCES.md signing §5.2 rows, as (code shown, NTSTATUS, explanation key).
ERROR_LOGIN_WKSTA_RESTRICTION = (1240, 0xC0000248, "smb1_wksta_restriction")
ERROR_ACCESS_DENIED = (5, 0xC0000022, "access_denied")
ERROR_SMB_GUEST_LOGON_BLOCKED = (1272, 0xC05D0002, "guest_blocked")
ERROR_SMB_GUEST_LOGON_BLOCKED_SIGNING_REQUIRED = (0xC05D0003, 0xC05D0006, "guest_blocked_signing")
STATUS_INVALID_SIGNATURE = (0xC000A000, 0xC000A000, "server_will_not_sign")
#: not in the fact sheet: a server without SMB1 drops an NT LM 0.12-only NEGOTIATE (MS-SMB2
#: 3.3.5.3.1); Windows' redirector shows STATUS_CONNECTION_DISCONNECTED as 64.
ERROR_NETNAME_DELETED = (64, 0xC000020C, None)


def _fail(family: str, stage: str, row: tuple, note: str) -> Outcome:
    code, status, key = row
    return _failure(family, stage, code, status, key, note)


def smb1_pair_outcome(cs: str, ss: str, *, guest: bool) -> Outcome:
    """What an SMB1 client in signing state ``cs`` shows against a server in ``ss``
    (disabled / enabled / required), for a user or a guest session (fact sheet §3, §5)."""
    table = smb1_signing_outcome(cs, ss)  # MS-SMB 3.2.4.2.4
    if table == "blocked" and cs == "required":
        # §3 / KB 887429: closed after NEGOTIATE, "System error 1240 has occurred."
        return _fail(
            SMB1,
            "negotiate",
            ERROR_LOGIN_WKSTA_RESTRICTION,
            "§3 KB 887429: client requires, server disabled",
        )
    if guest:
        # §5: a guest session has no key and cannot sign; a client that requires signing
        # refuses it (Samba's client likewise, CVE-2016-2019). SMB1 code: §5.2 row
        # "guest blocked because client requires signing" [unconfirmed for SMB1].
        if cs == "required":
            return _fail(
                SMB1,
                "session setup",
                ERROR_SMB_GUEST_LOGON_BLOCKED_SIGNING_REQUIRED,
                "§5: guest cannot sign, client requires signing",
            )
        if ss == "required":
            return _fail(
                SMB1,
                "tree connect",
                ERROR_ACCESS_DENIED,
                "§3 KB 887429: server requires, the (guest) session is unsigned",
            )
        return Outcome(True, SMB1, False, note="§5: guest sessions are never signed")
    if table == "blocked":  # client disabled, server required
        return _fail(
            SMB1,
            "tree connect",
            ERROR_ACCESS_DENIED,
            "§3 KB 887429: client disabled, server requires -> ACCESS_DENIED",
        )
    return Outcome(True, SMB1, table == "signed", note=f"§3 MS-SMB 3.2.4.2.4: {cs} x {ss}")


def smb2_guest_refusal(insecure_guest_allowed: bool, require_signing: bool) -> Outcome | None:
    """§5: 1272 when insecure guest logons are off; 3227320323 when they are on but the
    client requires signing; None when the client takes the (unsigned) guest session."""
    d = guest_logon_allowed(insecure_guest_allowed, require_signing)
    if d.allowed:
        return None
    row = (
        ERROR_SMB_GUEST_LOGON_BLOCKED
        if d.win32 == 1272
        else ERROR_SMB_GUEST_LOGON_BLOCKED_SIGNING_REQUIRED
    )
    return _fail(SMB2, "session setup", row, "§5 guest logon rules")


def expected_outcome(
    client_profile: str,
    server_profile: str,
    scenario: str = "user",
    *,
    client_overrides: Overrides = None,
    server_overrides: Overrides = None,
    smb1_servers: bool = False,
    server_signs: bool = True,
) -> Outcome:
    """What the documents say the client shows for this pair (docs/SOURCES.md (signing)).

    ``server_signs=False`` models an SMB2 server that does not sign its responses (a broken
    or non-conforming peer; every Windows release signs when asked, MS-SMB2 requires it).
    """
    if scenario not in SCENARIOS:
        raise ValueError(f"scenario is one of {', '.join(SCENARIOS)}, got {scenario!r}")
    c = Party.of(client_profile, client_overrides)
    s = Party.of(server_profile, server_overrides)
    guest = scenario == "guest"

    if c.smb1_only or s.smb1_only:
        if not (s.smb1_only or smb1_servers):
            return _fail(
                SMB1,
                "negotiate",
                ERROR_NETNAME_DELETED,
                "SMB1-only client, server with SMB1 off (EnableSMB1Protocol default)",
            )
        return smb1_pair_outcome(c.client_smb1_state, s.server_smb1_state, guest=guest)

    creq, sreq = c.client.require_signing, s.server.require_signing
    if guest:
        # §5: 1272 when insecure guest logons are off; 3227320323 when they are on but the
        # client requires signing; otherwise an unsigned guest session.
        refused = smb2_guest_refusal(c.client.insecure_guest_allowed, creq)
        if refused is not None:
            return refused
        return Outcome(True, SMB2, False, note="§5: guest sessions are never signed")
    if not server_signs:
        # §5.2: "Peer won't/can't sign" -> 0xC000A000 (MS-SMB2 3.2.5.3.1: the final
        # SESSION_SETUP response of a user session is signed, 3.x always).
        return _fail(
            SMB2,
            "session setup",
            STATUS_INVALID_SIGNATURE,
            "§5: the server did not sign the final SESSION_SETUP response",
        )
    # §4.1: SMB2+ ignores EnableSecuritySignature; either side requires -> signed.
    return Outcome(True, SMB2, bool(creq or sreq), note="§4.1 SMB2/3 matrix")


def expected_table(
    clients: Sequence[str], servers: Sequence[str], scenario: str = "user", **kw
) -> dict[tuple[str, str], Outcome]:
    return {(c, s): expected_outcome(c, s, scenario, **kw) for c in clients for s in servers}


# ---- the real thing: lanman's server and client over loopback ---------------------------------


@dataclass
class _Share:
    name: str
    path: str
    read_only: bool = False
    guest_ok: bool = True
    remark: str = "lanman smb matrix"


def server_settings_for(profile: str, overrides: Overrides = None, *, smb1_servers: bool = False):
    """ServerSettings a host under ``profile`` serves with (matrix decisions above)."""
    from lanman.smb.server.state import ServerSettings

    p = Party.of(profile, overrides)
    return ServerSettings(
        server_name=f"M-{p.profile.upper()}"[:15],
        server_guid=uuid.uuid4().bytes_le,
        require_message_signing=p.server.require_signing,
        enable_security_signature=p.server.enable_signing,
        smb1_enabled=p.smb1_only or smb1_servers,
        map_to_guest=True,  # only unknown accounts are mapped: the "user" scenario is unaffected
    )


class MatrixServer:
    """lanman's SMB server for one server profile on 127.0.0.1:<random>, in its own thread."""

    def __init__(
        self,
        profile: str,
        overrides: Overrides = None,
        *,
        smb1_servers: bool = False,
        start_timeout: float = 10.0,
    ) -> None:
        from lanman.crypto.md4 import nt_hash
        from lanman.smb.server.state import ServerContext

        self.profile = get_profile(profile).name
        self.settings = server_settings_for(profile, overrides, smb1_servers=smb1_servers)
        self.events: list[tuple[str, dict]] = []
        self._tmp = tempfile.TemporaryDirectory(prefix="lanman-matrix-")
        path = os.path.join(self._tmp.name, SHARE)
        os.mkdir(path)
        share = _Share(SHARE, path)
        hashes = {USER: nt_hash(PASSWORD)}
        self.ctx = ServerContext(
            settings=self.settings,
            lookup_nt_hash=lambda n: hashes.get(n.lower()),
            get_share=lambda n: share if n.lower() == SHARE else None,
            list_shares=lambda: [share],
            emit_event=lambda name, **f: self.events.append((name, f)),
        )
        self._loop = asyncio.new_event_loop()
        self._server = None
        self._thread = threading.Thread(
            target=self._loop.run_forever, daemon=True, name=f"lanman-matrix-{self.profile}"
        )
        self._thread.start()
        try:
            fut = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
            self.port: int = fut.result(timeout=start_timeout)
        except BaseException:
            self.close()
            raise

    async def _start(self) -> int:
        from lanman.smb.server.transport import start_server

        self._server = await start_server(self.ctx, HOST, 0)
        return self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        if self._server is not None:
            from lanman.smb.server.transport import close_connections

            self._server.close()
            await close_connections(self._server)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)

    def close(self) -> None:
        if self._loop.is_running():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=5)
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()
        self._tmp.cleanup()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _credentials(scenario: str) -> tuple[str, str]:
    return (GUEST_USER, GUEST_PASSWORD) if scenario == "guest" else (USER, PASSWORD)


def _smb2_connect(port: int, client: Party, scenario: str, timeout: float) -> Outcome:
    from lanman.smb.client import SmbClient, SmbClientError

    user, password = _credentials(scenario)
    try:
        conn = SmbClient.connect(
            HOST,
            port,
            user,
            password,
            share=SHARE,
            require_signing=client.client.require_signing,
            allow_insecure_guest=client.client.insecure_guest_allowed,
            timeout=timeout,
            now_filetime=_now(),
        )
    except SmbClientError as e:
        stage = {
            "NEGOTIATE": "negotiate",
            "SESSION_SETUP": "session setup",
            "TREE_CONNECT": "tree connect",
        }.get(e.command, e.command.lower())
        ex = e.explanation
        if ex is not None:
            code, name, text = ex.code, ex.name, ex.message
        elif e.win32 is not None and e.win32.value:
            code, name, text = e.win32.value, e.win32.name, e.win32.message
        else:
            entry = nts.lookup(e.status)
            code, name, text = e.status, entry.name, entry.message
        return Outcome(False, SMB2, False, stage, code, name, text, e.status, e.key, note=e.detail)
    except OSError as e:
        return Outcome(
            False,
            SMB2,
            False,
            "connect",
            53,
            "ERROR_BAD_NETPATH",
            win32.lookup(53).message,
            None,
            "bad_netpath",
            note=str(e),
        )
    try:
        info = conn.connection_info()
    finally:
        conn.close()
    return Outcome(
        True, SMB2, info.signed, dialect=info.dialect, note="guest" if info.is_guest else ""
    )


def _smb1_connect(port: int, client: Party, scenario: str, timeout: float) -> Outcome:
    from lanman.errors.explain import key_for_status
    from lanman.smb.smb1.client import smb1_connect

    user, password = _credentials(scenario)
    r = smb1_connect(
        HOST,
        port,
        user,
        password,
        SHARE,
        enable_signing=client.client.enable_signing,
        require_signing=client.client.require_signing,
        timeout=timeout,
    )
    if r.ok:
        return Outcome(
            True, SMB1, r.signed, dialect="NT LM 0.12", note=f"SecurityMode {r.security_mode}"
        )
    if r.win32_code:
        w = win32.lookup(r.win32_code)
        code, name, text = w.value, w.name, r.message or w.message
    else:
        entry = nts.lookup(r.ntstatus or 0)
        code, name, text = entry.value, entry.name, entry.message
    return Outcome(
        False,
        SMB1,
        False,
        r.stage,
        code,
        name,
        text,
        r.ntstatus,
        key_for_status(r.ntstatus) if r.ntstatus is not None else None,
        dialect="NT LM 0.12",
        note=f"SecurityMode {r.security_mode}",
    )


def _now() -> int:
    from lanman.smb.filestat import unix_ns_to_filetime

    return unix_ns_to_filetime(time.time_ns())


def run_pair(
    port: int,
    client_profile: str,
    server_profile: str,
    scenario: str = "user",
    *,
    client_overrides: Overrides = None,
    timeout: float = 10.0,
) -> Outcome:
    """Connect lanman's client under ``client_profile`` to the server on ``port``, which runs
    ``server_profile`` (its family decides SMB1 vs SMB2/3, see the module notes)."""
    c = Party.of(client_profile, client_overrides)
    if c.smb1_only or is_smb1_only(server_profile):
        return _smb1_connect(port, c, scenario, timeout)
    return _smb2_connect(port, c, scenario, timeout)


@dataclass(slots=True)
class MatrixCell:
    client: str
    server: str
    scenario: str
    observed: Outcome
    expected: Outcome
    seconds: float = 0.0

    @property
    def matches(self) -> bool:
        return self.observed.comparable() == self.expected.comparable()

    def as_dict(self) -> dict[str, object]:
        return {
            "client": self.client,
            "server": self.server,
            "scenario": self.scenario,
            "observed": self.observed.as_dict(),
            "expected": self.expected.as_dict(),
            "matches": self.matches,
        }


@dataclass(slots=True)
class MatrixRun:
    clients: list[str]
    servers: list[str]
    scenarios: list[str]
    cells: list[MatrixCell] = field(default_factory=list)
    seconds: float = 0.0
    smb1_servers: bool = False

    def cell(self, client: str, server: str, scenario: str) -> MatrixCell:
        for c in self.cells:
            if (c.client, c.server, c.scenario) == (client, server, scenario):
                return c
        raise KeyError((client, server, scenario))

    @property
    def mismatches(self) -> list[MatrixCell]:
        return [c for c in self.cells if not c.matches]


def run_matrix(
    clients: Iterable[str] | None = None,
    servers: Iterable[str] | None = None,
    scenarios: Iterable[str] = ("user",),
    *,
    client_overrides: Overrides = None,
    server_overrides: Overrides = None,
    smb1_servers: bool = False,
    timeout: float = 10.0,
    progress: Callable[[MatrixCell], None] | None = None,
) -> MatrixRun:
    """Run every pair over loopback sockets: one server per server profile, reused for all
    client profiles and scenarios. ``timeout`` bounds every socket operation."""
    cl = [get_profile(c).name for c in (clients or profile_names())]
    sv = [get_profile(s).name for s in (servers or profile_names())]
    sc = list(scenarios)
    for s in sc:
        if s not in SCENARIOS:
            raise ValueError(f"scenario is one of {', '.join(SCENARIOS)}, got {s!r}")
    run = MatrixRun(cl, sv, sc, smb1_servers=smb1_servers)
    t0 = time.monotonic()
    for server in sv:
        with MatrixServer(server, server_overrides, smb1_servers=smb1_servers) as srv:
            for scenario in sc:
                for client in cl:
                    t = time.monotonic()
                    observed = run_pair(
                        srv.port,
                        client,
                        server,
                        scenario,
                        client_overrides=client_overrides,
                        timeout=timeout,
                    )
                    expected = expected_outcome(
                        client,
                        server,
                        scenario,
                        client_overrides=client_overrides,
                        server_overrides=server_overrides,
                        smb1_servers=smb1_servers,
                    )
                    cell = MatrixCell(
                        client, server, scenario, observed, expected, time.monotonic() - t
                    )
                    run.cells.append(cell)
                    if progress is not None:
                        progress(cell)
    run.seconds = time.monotonic() - t0
    return run
