"""lanman up: a port it cannot bind is a cause and a remedy, never an internal error."""

from __future__ import annotations

import os
import socket
import subprocess
import sys


def test_port_in_use_is_explained(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        args = [sys.executable, "-m", "lanman.cli.main", "--home", str(tmp_path / "h"), "up"]
        args += ["--listen", "127.0.0.1", "--smb-port", str(port)]
        if os.geteuid() == 0:
            args += ["--run-as", "root"]
        r = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"cannot listen on 127.0.0.1:{port}: the address is already in use" in r.stderr
    assert "Remedy:" in r.stderr
    assert "internal error" not in r.stderr and "Traceback" not in r.stderr
