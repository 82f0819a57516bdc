"""``lanman smb matrix`` over real loopback sockets: every (client, server) profile pair,
observed with lanman's real client against lanman's real server, must equal the table
written from the documents (:func:`lanman.policy.matrix.expected_outcome`), code, name,
stage and text included.

Plus each failure scenario of the issue over sockets, with exact codes and texts:
0xC000A000 (server will not sign: a proxy strips the server's signatures), 1272 then
3227320323 (guest-only server), SMB1 1240, SMB1 ACCESS_DENIED at TREE_CONNECT, and success
when both sides require / both have signing disabled.

"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time

import pytest

from lanman.policy.matrix import (
    GUEST_PASSWORD,
    GUEST_USER,
    HOST,
    SCENARIOS,
    SHARE,
    MatrixServer,
    expected_outcome,
    profile_names,
    run_matrix,
    run_pair,
)
from lanman.smb.client import SmbClient, SmbClientError

pytestmark = [pytest.mark.interop]

NAMES = profile_names()
PAIRS = [(c, s) for c in NAMES for s in NAMES]
RUNTIME_BUDGET = 180.0  # seconds for the whole matrix (all pairs, both scenarios)

GUEST_TEXT = (
    "You can't access this shared folder because your organization's security policies "
    "block unauthenticated guest access. These policies help protect your PC from unsafe or "
    "malicious devices on the network."
)
GUEST_SIGNING_TEXT = (
    "You can't access this shared folder because your computer is configured to require SMB "
    "signing. These policies help protect your PC from unsafe or malicious devices on the "
    "network."
)


@pytest.fixture(scope="module")
def runs():
    out = {}
    for smb1 in (False, True):
        out[smb1] = run_matrix(NAMES, NAMES, SCENARIOS, smb1_servers=smb1, timeout=10.0)
    return out


def _describe(cell) -> str:
    o, e = cell.observed, cell.expected
    return (
        f"{cell.client} -> {cell.server} ({cell.scenario}): observed {o.cell} "
        f"[{o.family} {o.stage} {o.text!r} {o.note}] expected {e.cell} "
        f"[{e.family} {e.stage} {e.text!r} {e.note}]"
    )


def test_matrix_covers_all_pairs_within_budget(runs):
    for run in runs.values():
        assert len(run.cells) == 15 * 15 * len(SCENARIOS)
        assert run.seconds < RUNTIME_BUDGET / 2, run.seconds


@pytest.mark.parametrize("smb1_servers", [False, True], ids=["smb1-default", "smb1-on"])
@pytest.mark.parametrize(("client", "server"), PAIRS)
def test_user_scenario(runs, client, server, smb1_servers):
    cell = runs[smb1_servers].cell(client, server, "user")
    assert cell.observed.comparable() == cell.expected.comparable(), _describe(cell)


@pytest.mark.parametrize("smb1_servers", [False, True], ids=["smb1-default", "smb1-on"])
@pytest.mark.parametrize(("client", "server"), PAIRS)
def test_guest_scenario(runs, client, server, smb1_servers):
    cell = runs[smb1_servers].cell(client, server, "guest")
    assert cell.observed.comparable() == cell.expected.comparable(), _describe(cell)


# ---- the scenarios of the issue, with exact codes and texts ---------------------------------


def _run_one(client, server, scenario="user", **kw):
    run = run_matrix([client], [server], [scenario], timeout=10.0, **kw)
    (cell,) = run.cells
    return cell


def test_smb1_client_requires_server_disabled_1240():
    cell = _run_one(
        "xp", "nt4-sp3", client_overrides={"LanmanWorkstation.RequireSecuritySignature": 1}
    )
    o = cell.observed
    assert cell.matches, _describe(cell)
    assert (o.family, o.stage, o.code, o.name) == (
        "SMB1",
        "negotiate",
        1240,
        "ERROR_LOGIN_WKSTA_RESTRICTION",
    )
    assert o.text == "The account is not authorized to log in from this station."
    assert o.note == "SecurityMode 3"


def test_smb1_client_disabled_server_requires_access_denied():
    cell = _run_one(
        "xp", "server2003-dc", client_overrides={"LanmanWorkstation.EnableSecuritySignature": 0}
    )
    o = cell.observed
    assert cell.matches, _describe(cell)
    assert (o.stage, o.code, o.name, o.ntstatus, o.text) == (
        "tree connect",
        5,
        "ERROR_ACCESS_DENIED",
        0xC0000022,
        "Access is denied.",
    )
    assert o.note == "SecurityMode 15"


@pytest.mark.parametrize(
    ("client", "server", "overrides", "signed"),
    [
        ("xp", "server2003-dc", {"LanmanWorkstation.RequireSecuritySignature": 1}, True),
        ("xp", "nt4-sp3", {"LanmanWorkstation.EnableSecuritySignature": 0}, False),
        ("win11-24h2-pro", "win11-24h2-pro", None, True),
        ("win10", "win10", None, False),
    ],
    ids=["smb1-both-required", "smb1-both-disabled", "smb2-both-required", "smb2-neither"],
)
def test_both_required_or_both_disabled_succeed(client, server, overrides, signed):
    cell = _run_one(client, server, client_overrides=overrides)
    assert cell.matches, _describe(cell)
    assert cell.observed.ok and cell.observed.signed is signed


def test_guest_only_server_1272_then_3227320323():
    with MatrixServer("win10") as srv:
        o = run_pair(srv.port, "win11-24h2-pro", "win10", "guest")
        assert (o.code, o.name, o.text, o.stage) == (
            1272,
            "ERROR_SMB_GUEST_LOGON_BLOCKED",
            GUEST_TEXT,
            "session setup",
        )
        allow = {"LanmanWorkstation.AllowInsecureGuestAuth": 1}
        o = run_pair(srv.port, "win11-24h2-pro", "win10", "guest", client_overrides=allow)
        assert (o.code, o.code_display, o.name, o.text) == (
            0xC05D0003,
            "3227320323",
            "ERROR_SMB_GUEST_LOGON_BLOCKED_SIGNING_REQUIRED",
            GUEST_SIGNING_TEXT,
        )
        assert (
            o.comparable()
            == expected_outcome(
                "win11-24h2-pro", "win10", "guest", client_overrides=allow
            ).comparable()
        )
        # What the user sees, line by line (net use / Explorer).
        for allow_guest, first_lines in (
            (
                False,
                [
                    GUEST_TEXT,
                    "Error code: 0x80070035 The network path was not found.",
                    "System error 1272 has occurred.",
                ],
            ),
            (True, ["System error 3227320323 has occurred."]),
        ):
            with pytest.raises(SmbClientError) as ei:
                SmbClient.connect(
                    HOST,
                    srv.port,
                    GUEST_USER,
                    GUEST_PASSWORD,
                    share=SHARE,
                    require_signing=True,
                    allow_insecure_guest=allow_guest,
                    timeout=10.0,
                )
            assert ei.value.lines()[: len(first_lines)] == first_lines


# ---- a server that will not sign: 0xC000A000 ------------------------------------------------


class StripSigningProxy:
    """127.0.0.1 proxy that clears SMB2 SIGNED and zeroes the signature of every server
    response: the server then looks like one that does not sign."""

    def __init__(self, target_port: int, max_seconds: float = 60.0) -> None:
        self.target_port = target_port
        self.deadline = time.monotonic() + max_seconds
        self.lsock = socket.socket()
        self.lsock.bind((HOST, 0))
        self.lsock.listen(4)
        self.lsock.settimeout(0.2)
        self.port = self.lsock.getsockname()[1]
        self.stripped = 0
        self._stop = threading.Event()
        self._socks: list[socket.socket] = []
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def _accept(self) -> None:
        while not self._stop.is_set() and time.monotonic() < self.deadline:
            try:
                c, _ = self.lsock.accept()
            except (TimeoutError, OSError):
                continue
            u = socket.create_connection((HOST, self.target_port), timeout=10)
            c.settimeout(10)
            self._socks += [c, u]
            for args in ((c, u, False), (u, c, True)):
                t = threading.Thread(target=self._pump, args=args, daemon=True)
                t.start()
                self._threads.append(t)

    @staticmethod
    def _recv(s: socket.socket, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = s.recv(n - len(buf))
            if not chunk:
                raise ConnectionError
            buf += chunk
        return buf

    def _pump(self, src: socket.socket, dst: socket.socket, strip: bool) -> None:
        with contextlib.suppress(OSError, ConnectionError):
            while not self._stop.is_set() and time.monotonic() < self.deadline:
                head = self._recv(src, 4)
                body = bytearray(self._recv(src, struct.unpack(">I", head)[0] & 0xFFFFFF))
                if strip and body[:4] == b"\xfeSMB" and len(body) >= 64:
                    flags = struct.unpack_from("<I", body, 16)[0]
                    if flags & 0x8:
                        struct.pack_into("<I", body, 16, flags & ~0x8)
                        body[48:64] = bytes(16)
                        self.stripped += 1
                dst.sendall(head + bytes(body))
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.close()

    def close(self) -> None:
        self._stop.set()
        for s in [self.lsock, *self._socks]:
            with contextlib.suppress(OSError):
                s.close()
        for t in self._threads:
            t.join(timeout=5)


@pytest.mark.parametrize("client", ["win11-24h2-pro", "server2025"])
def test_server_will_not_sign_0xc000a000(client):
    with MatrixServer("win10") as srv:
        proxy = StripSigningProxy(srv.port)
        try:
            o = run_pair(proxy.port, client, "win10", "user")
        finally:
            proxy.close()
    assert proxy.stripped >= 1
    e = expected_outcome(client, "win10", "user", server_signs=False)
    assert o.comparable() == e.comparable(), (o, e)
    assert (o.code_display, o.name, o.text) == (
        "0xC000A000",
        "STATUS_INVALID_SIGNATURE",
        "The cryptographic signature is invalid.",
    )
    assert o.key == "server_will_not_sign"
