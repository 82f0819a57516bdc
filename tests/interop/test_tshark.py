"""tshark (Wireshark 4.0, Debian 12) dissects a captured session without complaints.

Capture: ``tshark -i lo -f "tcp port N" -F pcap -w FILE -a duration:S`` (root; dumpcap).

Port quirk: Wireshark's NBSS dissector only uses the direct-TCP framing (1 zero byte +
24-bit length, MS-SMB2 2.1) when one side is port 445.  With ``-d tcp.port==N,nbss`` on
any other port it applies RFC 1002 framing (flags byte, 17-bit length) and every SMB2 PDU
of 64 KiB or more (READ responses, large WRITEs) is reported "Malformed Packet" -- for
Samba exactly as for any server.  So the test rewrites port N to 445 in the capture (TCP
checksums are not validated by default) and analyses it without ``-d``.
Flag filter: ``_ws.malformed || _ws.expert.severity >= error`` (``error`` is accepted as a
value name of ``_ws.expert.severity``).

lanman sends a plain RFC 4178 NegTokenInit in the NEGOTIATE response (no MS-SPNG negHints,
which Wireshark 4.0 misreads as a malformed mechListMIC), so nothing at all may be flagged.
"""

from __future__ import annotations

import os
import select
import socket
import struct
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from interop_support import HOST, require_tool, run, smbclient, stop_process

pytestmark = [pytest.mark.interop]


class Capture:
    def __init__(self, port: int, path, seconds: int = 120):
        self.port = port
        self.path = str(path)
        exe = require_tool("tshark")
        self.proc = subprocess.Popen(
            [
                exe,
                "-i",
                "lo",
                "-f",
                f"tcp port {port}",
                "-F",
                "pcap",
                "-w",
                self.path,
                "-a",
                f"duration:{seconds}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.stderr = b""

    def wait_ready(self, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        fd = self.proc.stderr.fileno()
        while time.monotonic() < deadline and b"Capturing on" not in self.stderr:
            if self.proc.poll() is not None:
                break
            r, _, _ = select.select([fd], [], [], 0.5)
            if r:
                self.stderr += os.read(fd, 4096)
        assert b"Capturing on" in self.stderr, f"tshark did not start: {self.stderr!r}"
        # "Capturing on" is printed before dumpcap really captures: probe until the
        # file grows (bounded), so the first real session is captured from its SYN
        base = os.path.getsize(self.path) if os.path.exists(self.path) else 0
        for _ in range(40):
            with socket.create_connection((HOST, self.port), timeout=2):
                pass
            time.sleep(0.25)
            if os.path.exists(self.path) and os.path.getsize(self.path) > base:
                return
        raise AssertionError("capture file never grew: tshark is not capturing on lo")

    def stop(self) -> None:
        time.sleep(0.5)
        if self.proc.poll() is None:
            self.proc.send_signal(2)
        try:
            _, err = self.proc.communicate(timeout=20)
            self.stderr += err or b""
        except subprocess.TimeoutExpired:
            stop_process(self.proc)


def rewrite_port(src, dst, old: int, new: int = 445) -> int:
    """Copy a libpcap file (Ethernet or Linux cooked/loopback) replacing TCP port
    ``old`` with ``new``; returns the number of packets rewritten."""
    data = Path(src).read_bytes()
    magic = data[:4]
    endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    linktype = struct.unpack_from(endian + "I", data, 20)[0]
    l2 = {1: 14, 113: 16, 276: 20, 0: 4, 12: 0, 101: 0}.get(linktype)
    assert l2 is not None, f"unexpected pcap linktype {linktype}"
    out = bytearray(data[:24])
    pos, n = 24, 0
    for _ in range(10_000_000):
        if pos + 16 > len(data):
            break
        incl = struct.unpack_from(endian + "I", data, pos + 8)[0]
        rec = bytearray(data[pos + 16 : pos + 16 + incl])
        ip = l2
        if len(rec) > ip + 20 and rec[ip] >> 4 == 4 and rec[ip + 9] == 6:
            tcp = ip + (rec[ip] & 0xF) * 4
            for off in (tcp, tcp + 2):
                if struct.unpack_from(">H", rec, off)[0] == old:
                    struct.pack_into(">H", rec, off, new)
                    n += 1
        out += data[pos : pos + 16] + rec
        pos += 16 + incl
    Path(dst).write_bytes(bytes(out))
    return n


def tshark_fields(pcap, port, display_filter, *fields) -> list[list[str]]:
    exe = require_tool("tshark")
    cmd = [
        exe,
        "-r",
        str(pcap),
        "-Y",
        display_filter,
        "-T",
        "fields",
        "-E",
        "separator=\t",
        "-E",
        "aggregator=|",
    ]
    for f in fields:
        cmd += ["-e", f]
    cp = run(cmd, timeout=120, check=True)
    return [ln.split("\t") for ln in cp.stdout.decode(errors="replace").splitlines() if ln]


def drive_session(target, workdir):
    """A representative signed session: -L (srvsvc over IPC$), 3.1.1 and 2.1 file ops,
    smbprotocol at 3.0."""
    (workdir / "f.txt").write_bytes(os.urandom(200_000))
    smbclient(target, "-L", target.host, unc=False, protocol="SMB3_11")
    for proto in ("SMB3_11", "SMB2_10", "SMB2_02"):
        smbclient(
            target,
            "-c",
            f"mkdir ts_{proto}; cd ts_{proto}; put f.txt g.txt; ls; "
            f"get g.txt back.txt; rename g.txt h.txt; rm h.txt; cd ..; rmdir ts_{proto}",
            protocol=proto,
            cwd=workdir,
        )
    from smbprotocol.connection import Connection, Dialects
    from smbprotocol.session import Session
    from smbprotocol.tree import TreeConnect

    conn = Connection(uuid.uuid4(), target.host, target.port, require_signing=True)
    conn.connect(dialect=Dialects.SMB_3_0_0, timeout=10)
    try:
        s = Session(conn, target.user, target.password, require_encryption=False)
        s.connect()
        t = TreeConnect(s, rf"\\{target.host}\{target.share}")
        t.connect()
        t.disconnect()
        s.disconnect()
    finally:
        conn.disconnect(True)


@pytest.mark.timeout(240)
def test_tshark_dissects_session_cleanly(target, workdir, tmp_path):
    pcap = tmp_path / "session.pcap"
    cap = Capture(target.port, pcap)
    try:
        cap.wait_ready()
        drive_session(target, workdir)
    finally:
        cap.stop()
    port = 445
    pcap445 = tmp_path / "session-445.pcap"
    assert rewrite_port(pcap, pcap445, target.port, 445) > 50
    pcap = pcap445

    smb2 = tshark_fields(pcap, port, "smb2", "frame.number")
    assert len(smb2) > 20, f"only {len(smb2)} SMB2 frames captured"
    negotiates = tshark_fields(
        pcap, port, "smb2.cmd == 0 && smb2.flags.response == 0", "frame.number"
    )
    assert len(negotiates) >= 5, "the sessions were not captured from the start"
    signed = tshark_fields(pcap, port, "smb2.flags.signature == 1", "frame.number")
    assert len(signed) > 10, "no signed SMB2 traffic in the capture"
    assert tshark_fields(pcap, port, "srvsvc", "frame.number"), (
        "NetShareEnumAll over \\pipe\\srvsvc was not dissected"
    )

    flagged = tshark_fields(
        pcap,
        port,
        "_ws.malformed || _ws.expert.severity >= error",
        "frame.number",
        "smb2.cmd",
        "smb2.flags.response",
        "_ws.expert.message",
        "_ws.expert.severity",
    )
    problems = [row for row in flagged if row and row[0]]
    assert not problems, f"tshark flags (frame, cmd, response, messages, severities): {problems}"
