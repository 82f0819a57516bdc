"""File metadata as Windows keeps it: the DOS-attribute xattr codec (dosattrib.py), the
delayed LastWriteTime rules (timestamps.py) and both through ShareFS (fs.py)."""

from __future__ import annotations

import os
import struct
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as hst

from lanman.errors.ntstatus import STATUS_ACCESS_DENIED, NtStatusError
from lanman.smb.filestat import (
    FILE_ATTRIBUTE_ARCHIVE,
    FILE_ATTRIBUTE_DIRECTORY,
    FILE_ATTRIBUTE_HIDDEN,
    FILE_ATTRIBUTE_NORMAL,
    FILE_ATTRIBUTE_READONLY,
    FILE_ATTRIBUTE_SYSTEM,
    unix_ns_to_filetime,
)
from lanman.smb.server import dosattrib
from lanman.smb.server import fs as F
from lanman.smb.server.dosattrib import DosInfo
from lanman.smb.server.fs import ShareFS
from lanman.smb.server.timestamps import WRITE_TIME_DELAY, WriteTimeState

RW = F.FILE_GENERIC_READ | F.FILE_GENERIC_WRITE
S = 1_000_000_000


# -- codec ------------------------------------------------------------------------------------


@given(
    hst.integers(0, dosattrib.SETTABLE_ATTRIBUTES).map(lambda a: a & dosattrib.SETTABLE_ATTRIBUTES),
    hst.none() | hst.integers(0, (1 << 63) - 1),
    hst.none() | hst.integers(0, (1 << 63) - 1),
)
def test_codec_round_trip(attrs: int, ctime: int | None, chtime: int | None) -> None:
    info = DosInfo(attrs, ctime, chtime)
    raw = dosattrib.encode(info)
    assert len(raw) == dosattrib.RECORD_SIZE and raw[0] == dosattrib.VERSION
    assert dosattrib.decode(raw) == info


@given(hst.binary(max_size=64))
def test_codec_never_raises_on_garbage(raw: bytes) -> None:
    got = dosattrib.decode(raw)
    assert got is None or dosattrib.encode(got) == raw


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x01" * 23,
        dosattrib.encode(DosInfo(0)) + b"\x00",  # too long
        b"\x02" + dosattrib.encode(DosInfo(0))[1:],  # unknown version
        struct.pack("<BBHIqq", 1, 0x04, 0, 0, 0, 0),  # unknown flag
        struct.pack("<BBHIqq", 1, 0, 1, 0, 0, 0),  # reserved set
        struct.pack("<BBHIqq", 1, 0, 0, FILE_ATTRIBUTE_DIRECTORY, 0, 0),  # not settable
        struct.pack("<BBHIqq", 1, 1, 0, 0, -5, 0),  # negative time
    ],
)
def test_codec_rejects_corrupt(raw: bytes) -> None:
    assert dosattrib.decode(raw) is None


def test_effective_attributes() -> None:
    ea = dosattrib.effective_attributes
    assert ea(None, is_directory=False, owner_writable=True, name="a") == FILE_ATTRIBUTE_ARCHIVE
    assert ea(DosInfo(0), is_directory=False, owner_writable=True, name="a") == (
        FILE_ATTRIBUTE_NORMAL
    )
    assert ea(DosInfo(0), is_directory=False, owner_writable=False, name="a") == (
        FILE_ATTRIBUTE_READONLY
    )
    assert ea(
        DosInfo(FILE_ATTRIBUTE_READONLY), is_directory=True, owner_writable=True, name="d"
    ) == (FILE_ATTRIBUTE_READONLY | FILE_ATTRIBUTE_DIRECTORY)
    assert ea(None, is_directory=False, owner_writable=True, name=".x") & FILE_ATTRIBUTE_HIDDEN
    assert dosattrib.overwrite_denied(DosInfo(FILE_ATTRIBUTE_HIDDEN), FILE_ATTRIBUTE_NORMAL)
    assert not dosattrib.overwrite_denied(DosInfo(FILE_ATTRIBUTE_SYSTEM), FILE_ATTRIBUTE_SYSTEM)
    assert not dosattrib.overwrite_denied(None, 0)


# -- LastWriteTime rules ----------------------------------------------------------------------


def test_write_time_state_delayed_update() -> None:
    t = WriteTimeState()
    t.on_write(10 * S)
    assert t.due_update(11 * S) is None  # not yet due
    assert t.due_update(12 * S) == 10 * S + WRITE_TIME_DELAY
    t.on_write(13 * S)  # after the delayed update: only CLOSE moves the time
    assert t.due_update(20 * S) is None
    assert t.on_close(21 * S) == 21 * S
    assert t.on_close(22 * S) is None


def test_write_time_state_flush_and_freeze() -> None:
    t = WriteTimeState()
    assert t.flush_pending(1) is None
    t.on_write(5)
    assert t.flush_pending(7) == 7 and t.on_close(9) is None
    f = WriteTimeState()
    f.on_set_write_time(-1)
    f.on_write(5)
    assert f.due_update(10 * S) is None and f.on_close(10 * S) is None
    f.on_set_write_time(-2)
    f.on_write(6)
    assert f.on_close(7) == 7


# -- through ShareFS --------------------------------------------------------------------------


@pytest.fixture
def share(tmp_path: Path) -> ShareFS:
    root = tmp_path / "share"
    root.mkdir()
    (root / "host.txt").write_text("made on the host")
    s = ShareFS(str(root))
    s.now_ns = time.time_ns() + S  # type: ignore[attr-defined]  # after the files' mtimes
    s.clock = lambda: s.now_ns  # type: ignore[attr-defined]
    return s


def create(
    share: ShareFS,
    path: str,
    disposition: int = F.FILE_CREATE,
    attributes: int = 0,
    options: int = 0,
):
    return share.open(
        path,
        desired_access=RW | F.FILE_WRITE_ATTRIBUTES | F.DELETE,
        share_access=7,
        create_disposition=disposition,
        create_options=options,
        file_attributes=attributes,
    )


def test_create_stores_record(share: ShareFS) -> None:
    h, _ = create(share, "new.txt", attributes=FILE_ATTRIBUTE_HIDDEN)
    st = h.stat()
    assert st.file_attributes == FILE_ATTRIBUTE_HIDDEN | FILE_ATTRIBUTE_ARCHIVE
    assert st.creation_time == st.last_write_time
    rec = dosattrib.read(h.fd)
    assert rec is not None and rec.creation_time == st.creation_time
    h.close()
    d, _ = create(share, "d", options=F.FILE_DIRECTORY_FILE)
    assert d.stat().file_attributes == FILE_ATTRIBUTE_DIRECTORY
    d.close()


def test_set_attributes_round_trip_and_listing(share: ShareFS) -> None:
    h, _ = create(share, "f.txt")
    for attrs in (
        FILE_ATTRIBUTE_NORMAL,
        FILE_ATTRIBUTE_SYSTEM,
        FILE_ATTRIBUTE_HIDDEN | FILE_ATTRIBUTE_READONLY,
    ):
        h.set_basic_info(0, 0, 0, 0, attrs)
        assert h.stat().file_attributes == attrs
    h.set_basic_info(0, 0, 0, 0, FILE_ATTRIBUTE_NORMAL)
    h.close()
    d, _ = create(share, "d", options=F.FILE_DIRECTORY_FILE)
    d.set_basic_info(0, 0, 0, 0, FILE_ATTRIBUTE_READONLY | FILE_ATTRIBUTE_DIRECTORY)
    assert d.stat().file_attributes == FILE_ATTRIBUTE_READONLY | FILE_ATTRIBUTE_DIRECTORY
    d.close()
    root, _ = share.open(
        "",
        desired_access=F.FILE_GENERIC_READ,
        share_access=7,
        create_disposition=F.FILE_OPEN,
        create_options=0,
        file_attributes=0,
    )
    by = {e.name: e for e in root.list_directory("*")}
    assert by["d"].file_attributes == FILE_ATTRIBUTE_READONLY | FILE_ATTRIBUTE_DIRECTORY
    assert by["f.txt"].file_attributes == FILE_ATTRIBUTE_NORMAL
    assert by["host.txt"].file_attributes == FILE_ATTRIBUTE_ARCHIVE  # no record: host view
    root.close()


def test_corrupt_record_is_ignored(share: ShareFS) -> None:
    path = os.path.join(share.root, "host.txt")
    os.setxattr(path, dosattrib.XATTR_NAME, b"\xff" * 7)
    h, _ = create(share, "host.txt", disposition=F.FILE_OPEN)
    assert h.stat().file_attributes == FILE_ATTRIBUTE_ARCHIVE
    h.close()


def test_overwrite_hidden_needs_hidden(share: ShareFS) -> None:
    h, _ = create(share, "h.txt", attributes=FILE_ATTRIBUTE_HIDDEN)
    h.close()
    with pytest.raises(NtStatusError) as e:
        create(share, "h.txt", disposition=F.FILE_OVERWRITE, attributes=FILE_ATTRIBUTE_NORMAL)
    assert e.value.status == STATUS_ACCESS_DENIED
    h, _ = create(
        share,
        "h.txt",
        disposition=F.FILE_OVERWRITE,
        attributes=FILE_ATTRIBUTE_HIDDEN | FILE_ATTRIBUTE_READONLY,
    )
    assert h.stat().file_attributes == (
        FILE_ATTRIBUTE_HIDDEN | FILE_ATTRIBUTE_READONLY | FILE_ATTRIBUTE_ARCHIVE
    )
    h.set_basic_info(0, 0, 0, 0, FILE_ATTRIBUTE_NORMAL)
    h.close()


def test_times_set_and_persisted(share: ShareFS) -> None:
    h, _ = create(share, "t.txt")
    t1968 = unix_ns_to_filetime(-63158400 * S)
    far = unix_ns_to_filetime(15032385535 * S)
    h.set_basic_info(t1968, 0, t1968, t1968, 0)
    st = h.stat()
    assert (st.creation_time, st.last_write_time, st.change_time) == (t1968, t1968, t1968)
    h.set_basic_info(far, 0, far, far, 0)
    h.set_basic_info(-1, -1, -1, -1, 0)  # freeze: nothing moves
    h.set_basic_info(-2, -2, -2, -2, 0)  # thaw: nothing moves
    st = h.stat()
    assert (st.creation_time, st.last_write_time, st.change_time) == (far, far, far)
    h.close()
    h, _ = create(share, "t.txt", disposition=F.FILE_OPEN)
    assert h.stat().creation_time == far
    h.close()


def test_delayed_write_time(share: ShareFS) -> None:
    h, _ = create(share, "w.txt")
    created = h.stat().last_write_time
    share.now_ns += S  # type: ignore[attr-defined]
    h.write(0, b"x")
    assert h.stat().last_write_time == created  # pending
    share.now_ns += 3 * S  # type: ignore[attr-defined]
    fired = h.stat().last_write_time
    assert fired == unix_ns_to_filetime(share.now_ns - S)  # written at -3 s, due 2 s later  # type: ignore[attr-defined]
    h.write(0, b"y")
    share.now_ns += 3 * S  # type: ignore[attr-defined]
    assert h.stat().last_write_time == fired  # a second write waits for CLOSE
    h.apply_close_times()
    assert h.stat().last_write_time == unix_ns_to_filetime(share.now_ns)  # type: ignore[attr-defined]
    h.close()


def test_flush_and_eof_perform_pending_update(share: ShareFS) -> None:
    h, _ = create(share, "e.txt")
    created = h.stat().last_write_time
    share.now_ns += S // 2  # type: ignore[attr-defined]
    h.write(0, b"x")
    h.flush()
    assert h.stat().last_write_time > created
    share.now_ns += S  # type: ignore[attr-defined]
    h.set_end_of_file(1)
    assert h.stat().last_write_time == unix_ns_to_filetime(share.now_ns)  # type: ignore[attr-defined]
    h.close()


def test_write_sets_archive(share: ShareFS) -> None:
    h, _ = create(share, "a.txt")
    h.set_basic_info(0, 0, 0, 0, FILE_ATTRIBUTE_NORMAL)
    h.close()
    h, _ = create(share, "a.txt", disposition=F.FILE_OPEN)
    h.write(0, b"data")
    assert h.stat().file_attributes == FILE_ATTRIBUTE_ARCHIVE
    h.close()


def test_readonly_record_blocks_write_open_and_delete(share: ShareFS) -> None:
    h, _ = create(share, "ro.txt")
    h.set_basic_info(0, 0, 0, 0, FILE_ATTRIBUTE_READONLY)
    h.close()
    with pytest.raises(NtStatusError) as e:
        create(share, "ro.txt", disposition=F.FILE_OPEN)
    assert e.value.status == STATUS_ACCESS_DENIED
