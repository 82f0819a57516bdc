"""Directory-backed share backend (lanman.smb.server.fs): CREATE semantics, hostile paths,
symlinks, delete-on-close, rename, read-only shares, data path, directory listing."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hst

from lanman.errors.ntstatus import (
    STATUS_ACCESS_DENIED,
    STATUS_DIRECTORY_NOT_EMPTY,
    STATUS_FILE_CLOSED,
    STATUS_FILE_IS_A_DIRECTORY,
    STATUS_INVALID_DEVICE_REQUEST,
    STATUS_INVALID_PARAMETER,
    STATUS_NOT_A_DIRECTORY,
    STATUS_OBJECT_NAME_COLLISION,
    STATUS_OBJECT_NAME_INVALID,
    STATUS_OBJECT_NAME_NOT_FOUND,
    STATUS_OBJECT_PATH_NOT_FOUND,
    STATUS_OBJECT_PATH_SYNTAX_BAD,
    NtStatusError,
)
from lanman.smb.filestat import (
    FILE_ATTRIBUTE_ARCHIVE,
    FILE_ATTRIBUTE_DIRECTORY,
    FILE_ATTRIBUTE_HIDDEN,
    FILE_ATTRIBUTE_READONLY,
    filetime_to_unix_ns,
    unix_ns_to_filetime,
)
from lanman.smb.server import fs as F
from lanman.smb.server.fs import OpenFile, ShareFS
from lanman.smb.server.fs_paths import STATUS_CANNOT_DELETE
from lanman.smb.wire import constants as C

READ = F.FILE_GENERIC_READ
RW = F.FILE_GENERIC_READ | F.FILE_GENERIC_WRITE
ALL = F.GENERIC_ALL


@pytest.fixture
def share_dir(tmp_path: Path) -> Path:
    root = tmp_path / "share"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    root.mkdir()
    (root / "dir").mkdir()
    (root / "dir" / "Inner.txt").write_text("inner")
    (root / "file.txt").write_text("hello")
    (root / "empty").mkdir()
    (root / "link_out").symlink_to(outside)
    (root / "link_out_file").symlink_to(outside / "secret.txt")
    (root / "link_parent").symlink_to("..")
    (root / "link_root").symlink_to(".")
    (root / "link_in").symlink_to("dir")
    (root / "link_abs_in").symlink_to(root / "dir")
    (root / "link_file").symlink_to("file.txt")
    (root / "dangling").symlink_to("does-not-exist")
    (root / "dangling_out").symlink_to("/nonexistent-lanman/x")
    (root / "dir" / "up2").symlink_to("../..")
    return root


@pytest.fixture
def share(share_dir: Path) -> ShareFS:
    return ShareFS(str(share_dir))


def open_(
    share: ShareFS,
    path: str,
    disposition: int = F.FILE_OPEN,
    options: int = 0,
    access: int = READ,
    attributes: int = 0,
) -> tuple[OpenFile, int]:
    return share.open(
        path,
        desired_access=access,
        share_access=7,
        create_disposition=disposition,
        create_options=options,
        file_attributes=attributes,
    )


def status_of(fn, *a, **kw) -> int:  # type: ignore[no-untyped-def]
    with pytest.raises(NtStatusError) as e:
        fn(*a, **kw)
    return e.value.status


# -- hostile paths ------------------------------------------------------------------------------

HOSTILE = [
    ("..", STATUS_OBJECT_PATH_SYNTAX_BAD),
    ("..\\outside\\secret.txt", STATUS_OBJECT_PATH_SYNTAX_BAD),
    ("dir\\..\\..\\outside\\secret.txt", STATUS_OBJECT_PATH_SYNTAX_BAD),
    ("dir\\..\\file.txt", STATUS_OBJECT_NAME_INVALID),
    ("\\..\\..\\etc\\passwd", STATUS_OBJECT_PATH_SYNTAX_BAD),
    ("/etc/passwd", STATUS_OBJECT_NAME_INVALID),
    ("dir/Inner.txt", STATUS_OBJECT_NAME_INVALID),
    ("C:\\Windows\\win.ini", STATUS_OBJECT_NAME_INVALID),
    ("\\\\?\\C:\\x", STATUS_OBJECT_NAME_INVALID),
    ("\\\\localhost\\c$\\x", STATUS_OBJECT_NAME_INVALID),
    # named streams exist now (test_smb_streams.py); malformed stream syntax stays invalid
    ("file.txt:secret:$FOO", STATUS_OBJECT_NAME_INVALID),
    ("file.txt:secret:", STATUS_OBJECT_NAME_INVALID),
    ("file.txt:", STATUS_OBJECT_NAME_INVALID),
    ("file.txt:a:$DATA:b", STATUS_OBJECT_NAME_INVALID),
    ("file.txt:a/b", STATUS_OBJECT_NAME_INVALID),
    ("dir:x\\Inner.txt", STATUS_OBJECT_NAME_INVALID),
    (":secret", STATUS_OBJECT_NAME_INVALID),
    ("file.txt\x00.jpg", STATUS_OBJECT_NAME_INVALID),
    ("file\x07.txt", STATUS_OBJECT_NAME_INVALID),
    ("*.txt", STATUS_OBJECT_NAME_INVALID),
    ("file?.txt", STATUS_OBJECT_NAME_INVALID),
    ("CON", STATUS_OBJECT_NAME_INVALID),
    ("dir\\aux.c", STATUS_OBJECT_NAME_INVALID),
    ("a" * 300, STATUS_OBJECT_NAME_INVALID),
    ("dir\\\\Inner.txt", STATUS_OBJECT_NAME_INVALID),
    ("link_out", STATUS_ACCESS_DENIED),
    ("link_out\\secret.txt", STATUS_ACCESS_DENIED),
    ("link_out_file", STATUS_ACCESS_DENIED),
    ("link_parent", STATUS_ACCESS_DENIED),
    ("link_parent\\outside\\secret.txt", STATUS_ACCESS_DENIED),
    ("link_root\\link_parent\\outside", STATUS_ACCESS_DENIED),
    ("dir\\up2", STATUS_ACCESS_DENIED),
    ("dir\\up2\\outside\\secret.txt", STATUS_ACCESS_DENIED),
    ("dangling_out", STATUS_ACCESS_DENIED),
    ("dangling", STATUS_OBJECT_NAME_NOT_FOUND),
    ("nope", STATUS_OBJECT_NAME_NOT_FOUND),
    ("nope\\x", STATUS_OBJECT_PATH_NOT_FOUND),
    ("file.txt\\x", STATUS_OBJECT_PATH_NOT_FOUND),
    ("dir\\nope\\x", STATUS_OBJECT_PATH_NOT_FOUND),
]


@pytest.mark.parametrize(("path", "status"), HOSTILE)
def test_hostile_paths(share: ShareFS, path: str, status: int) -> None:
    assert status_of(open_, share, path) == status


@pytest.mark.parametrize(("path", "status"), HOSTILE)
def test_hostile_paths_create(share: ShareFS, share_dir: Path, path: str, status: int) -> None:
    """Creating through a hostile path never writes anything outside the share."""
    before = set(os.listdir(share_dir.parent / "outside"))
    try:
        h, _ = open_(share, path, F.FILE_OPEN_IF, access=RW)
        h.close()
    except NtStatusError as e:
        assert e.status in (status, STATUS_OBJECT_PATH_NOT_FOUND, STATUS_ACCESS_DENIED)
    else:
        # Only the plain missing names may be created (inside the share).
        assert path in ("nope", "dangling")
    assert set(os.listdir(share_dir.parent / "outside")) == before


@pytest.mark.parametrize("name", ["file.txt.", "file.txt ", "file.txt. ."])
def test_trailing_dots_and_spaces_name_files_of_their_own(
    share: ShareFS, share_dir: Path, name: str
) -> None:
    """As on NTFS, a name ending in a dot or space is its own file: it never opens, and
    creating it never touches, ``file.txt``."""
    assert status_of(open_, share, name) == STATUS_OBJECT_NAME_NOT_FOUND
    h, action = open_(share, name, F.FILE_CREATE, access=RW)
    try:
        assert action == F.FILE_CREATED and h.write(0, b"other") == 5
    finally:
        h.close()
    assert (share_dir / name).read_bytes() == b"other"
    assert (share_dir / "file.txt").read_text() == "hello"


def test_resolve(share: ShareFS, share_dir: Path) -> None:
    root = os.path.realpath(share_dir)
    assert share.resolve("") == root
    assert share.resolve("\\") == root
    assert share.resolve("DIR\\inner.TXT") == os.path.join(root, "dir", "Inner.txt")
    assert share.resolve("new-file") == os.path.join(root, "new-file")
    assert share.resolve("link_in\\Inner.txt") == os.path.join(root, "dir", "Inner.txt")
    assert share.resolve("link_root") == root
    assert status_of(share.resolve, "link_parent") == STATUS_ACCESS_DENIED
    assert status_of(share.resolve, "..\\x") == STATUS_OBJECT_PATH_SYNTAX_BAD


def test_symlinks_inside_share_are_followed(share: ShareFS) -> None:
    for path in ("link_in\\Inner.txt", "link_abs_in\\Inner.txt", "link_root\\dir\\Inner.txt"):
        h, _ = open_(share, path)
        buf = bytearray(16)
        assert bytes(buf[: h.read_into(0, memoryview(buf))]) == b"inner"
        assert h.path.endswith(os.path.join("dir", "Inner.txt"))
        h.close()
    h, _ = open_(share, "link_file")
    assert h.stat().end_of_file == 5
    h.close()


def test_symlinks_refused_when_disabled(share_dir: Path) -> None:
    strict = ShareFS(str(share_dir), follow_symlinks=False)
    assert status_of(open_, strict, "link_in\\Inner.txt") == STATUS_ACCESS_DENIED
    assert status_of(open_, strict, "link_file") == STATUS_ACCESS_DENIED
    h, _ = open_(strict, "dir\\Inner.txt")
    h.close()


def test_share_root_that_is_a_symlink(tmp_path: Path, share_dir: Path) -> None:
    alias = tmp_path / "alias"
    alias.symlink_to(share_dir)
    s = ShareFS(str(alias))
    h, _ = open_(s, "dir\\Inner.txt")
    assert h.path == os.path.join(os.path.realpath(share_dir), "dir", "Inner.txt")
    h.close()
    assert status_of(open_, s, "link_parent") == STATUS_ACCESS_DENIED


def test_fifo_refused(share: ShareFS, share_dir: Path) -> None:
    os.mkfifo(share_dir / "fifo")
    assert status_of(open_, share, "fifo") == STATUS_ACCESS_DENIED
    root, _ = open_(share, "")
    names = {e.name for e in root.list_directory("*")}
    root.close()
    assert "fifo" not in names


ALPHABET = hst.sampled_from(
    [
        "a",
        "B",
        "dir",
        "link_parent",
        "link_out",
        "link_in",
        "up2",
        "..",
        ".",
        "\\",
        "/",
        ":",
        "\x00",
        "*",
        " ",
        "é",
        "CON",
        "link_root",
        "file.txt",
        "Inner.txt",
        "\\\\",
        "C:",
    ]
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(parts=hst.lists(ALPHABET, max_size=8))
def test_random_paths_never_leave_root(share: ShareFS, parts: list[str]) -> None:
    path = "".join(p if p in ("\\", "\\\\") else p + "\\" for p in parts).rstrip("\\")
    root = share.root
    try:
        resolved = share.resolve(path)
    except NtStatusError:
        pass
    else:
        real = os.path.realpath(resolved)
        assert real == root or real.startswith(root + os.sep)
    try:
        h, _ = open_(share, path)
    except NtStatusError:
        return
    try:
        target = os.readlink(f"/proc/self/fd/{h.fd}")
        assert target == root or target.startswith(root + os.sep)
    finally:
        h.close()


# -- CREATE dispositions --------------------------------------------------------------------

D = F
NONE, FILE, DIR = "none", "file", "dir"
OK_CREATED_FILE = ("action", F.FILE_CREATED, FILE)
OK_CREATED_DIR = ("action", F.FILE_CREATED, DIR)


def ok(action: int, kind: str) -> tuple[str, int, str]:
    return ("action", action, kind)


def err(status: int) -> tuple[str, int, str]:
    return ("status", status, "")


INV = err(STATUS_INVALID_PARAMETER)
COLL = err(STATUS_OBJECT_NAME_COLLISION)
NF = err(STATUS_OBJECT_NAME_NOT_FOUND)
ISDIR = err(STATUS_FILE_IS_A_DIRECTORY)
NOTDIR = err(STATUS_NOT_A_DIRECTORY)

# (disposition, options) -> {state: expected}
TRUTH = {
    (F.FILE_SUPERSEDE, 0): {NONE: OK_CREATED_FILE, FILE: ok(F.FILE_SUPERSEDED, FILE), DIR: INV},
    (F.FILE_OPEN, 0): {NONE: NF, FILE: ok(F.FILE_OPENED, FILE), DIR: ok(F.FILE_OPENED, DIR)},
    (F.FILE_CREATE, 0): {NONE: OK_CREATED_FILE, FILE: COLL, DIR: COLL},
    (F.FILE_OPEN_IF, 0): {
        NONE: OK_CREATED_FILE,
        FILE: ok(F.FILE_OPENED, FILE),
        DIR: ok(F.FILE_OPENED, DIR),
    },
    (F.FILE_OVERWRITE, 0): {NONE: NF, FILE: ok(F.FILE_OVERWRITTEN, FILE), DIR: INV},
    (F.FILE_OVERWRITE_IF, 0): {NONE: OK_CREATED_FILE, FILE: ok(F.FILE_OVERWRITTEN, FILE), DIR: INV},
    (F.FILE_SUPERSEDE, F.FILE_DIRECTORY_FILE): {NONE: INV, FILE: INV, DIR: INV},
    (F.FILE_OPEN, F.FILE_DIRECTORY_FILE): {NONE: NF, FILE: NOTDIR, DIR: ok(F.FILE_OPENED, DIR)},
    (F.FILE_CREATE, F.FILE_DIRECTORY_FILE): {NONE: OK_CREATED_DIR, FILE: COLL, DIR: COLL},
    (F.FILE_OPEN_IF, F.FILE_DIRECTORY_FILE): {
        NONE: OK_CREATED_DIR,
        FILE: NOTDIR,
        DIR: ok(F.FILE_OPENED, DIR),
    },
    (F.FILE_OVERWRITE, F.FILE_DIRECTORY_FILE): {NONE: INV, FILE: INV, DIR: INV},
    (F.FILE_OVERWRITE_IF, F.FILE_DIRECTORY_FILE): {NONE: INV, FILE: INV, DIR: INV},
    (F.FILE_SUPERSEDE, F.FILE_NON_DIRECTORY_FILE): {
        NONE: OK_CREATED_FILE,
        FILE: ok(F.FILE_SUPERSEDED, FILE),
        DIR: ISDIR,
    },
    (F.FILE_OPEN, F.FILE_NON_DIRECTORY_FILE): {NONE: NF, FILE: ok(F.FILE_OPENED, FILE), DIR: ISDIR},
    (F.FILE_CREATE, F.FILE_NON_DIRECTORY_FILE): {NONE: OK_CREATED_FILE, FILE: COLL, DIR: COLL},
    (F.FILE_OPEN_IF, F.FILE_NON_DIRECTORY_FILE): {
        NONE: OK_CREATED_FILE,
        FILE: ok(F.FILE_OPENED, FILE),
        DIR: ISDIR,
    },
    (F.FILE_OVERWRITE, F.FILE_NON_DIRECTORY_FILE): {
        NONE: NF,
        FILE: ok(F.FILE_OVERWRITTEN, FILE),
        DIR: ISDIR,
    },
    (F.FILE_OVERWRITE_IF, F.FILE_NON_DIRECTORY_FILE): {
        NONE: OK_CREATED_FILE,
        FILE: ok(F.FILE_OVERWRITTEN, FILE),
        DIR: ISDIR,
    },
}
CASES = [(d, o, s, exp) for (d, o), row in TRUTH.items() for s, exp in row.items()]


@pytest.mark.parametrize(("disposition", "options", "state", "expected"), CASES)
def test_disposition_truth_table(
    share: ShareFS,
    share_dir: Path,
    disposition: int,
    options: int,
    state: str,
    expected: tuple[str, int, str],
) -> None:
    target = share_dir / "target"
    if state == FILE:
        target.write_bytes(b"old contents")
    elif state == DIR:
        target.mkdir()
    kind, value, obj = expected
    if kind == "status":
        assert status_of(open_, share, "target", disposition, options, RW) == value
        assert (target.exists(), target.is_dir()) == (state != NONE, state == DIR)
        return
    h, action = open_(share, "target", disposition, options, RW)
    try:
        assert action == value
        assert h.is_directory == (obj == DIR)
        assert target.is_dir() == (obj == DIR)
        st = h.stat()
        assert st.is_directory == (obj == DIR)
        if obj == FILE:
            expected_size = 12 if action == F.FILE_OPENED else 0
            assert st.end_of_file == expected_size == target.stat().st_size
    finally:
        h.close()


def test_bad_dispositions_and_options(share: ShareFS) -> None:
    assert status_of(open_, share, "file.txt", 6) == STATUS_INVALID_PARAMETER
    assert status_of(open_, share, "file.txt", -1) == STATUS_INVALID_PARAMETER
    both = F.FILE_DIRECTORY_FILE | F.FILE_NON_DIRECTORY_FILE
    assert status_of(open_, share, "dir", F.FILE_OPEN, both) == STATUS_INVALID_PARAMETER


def test_share_root_open(share: ShareFS) -> None:
    h, action = open_(share, "", F.FILE_OPEN, F.FILE_DIRECTORY_FILE)
    assert action == F.FILE_OPENED and h.is_directory and h.smb_path == "" and h.name == ""
    assert h.stat().name == ""
    h.close()
    assert status_of(open_, share, "", F.FILE_CREATE) == STATUS_OBJECT_NAME_COLLISION
    assert status_of(open_, share, "", F.FILE_OPEN, F.FILE_NON_DIRECTORY_FILE) == (
        STATUS_FILE_IS_A_DIRECTORY
    )
    assert status_of(open_, share, "", F.FILE_OVERWRITE_IF) == STATUS_INVALID_PARAMETER
    assert (
        status_of(open_, share, "\\", F.FILE_OPEN, F.FILE_DELETE_ON_CLOSE, F.DELETE | READ)
        == STATUS_ACCESS_DENIED
    )
    h, _ = open_(share, "", access=F.MAXIMUM_ALLOWED)
    assert status_of(h.rename, "x", False) == STATUS_ACCESS_DENIED
    assert status_of(h.set_delete_on_close, True) == STATUS_ACCESS_DENIED
    h.close()


def test_create_readonly_attribute(share: ShareFS, share_dir: Path) -> None:
    h, _ = open_(share, "ro.txt", F.FILE_CREATE, access=RW, attributes=FILE_ATTRIBUTE_READONLY)
    h.write(0, b"data")  # the creating handle keeps write access
    assert h.stat().file_attributes & FILE_ATTRIBUTE_READONLY
    h.close()
    assert not (share_dir / "ro.txt").stat().st_mode & 0o222
    # Windows semantics for a READONLY file: no write opens, no overwrite, no delete.
    assert status_of(open_, share, "ro.txt", access=RW) == STATUS_ACCESS_DENIED
    assert status_of(open_, share, "ro.txt", F.FILE_OVERWRITE_IF) == STATUS_ACCESS_DENIED
    assert (
        status_of(open_, share, "ro.txt", F.FILE_OPEN, F.FILE_DELETE_ON_CLOSE, READ | F.DELETE)
        == STATUS_CANNOT_DELETE
    )
    h, _ = open_(share, "ro.txt", access=F.MAXIMUM_ALLOWED)
    assert not h.granted_access & F.FILE_WRITE_DATA
    assert status_of(h.write, 0, b"x") == STATUS_ACCESS_DENIED
    h.close()


def test_maximum_allowed(share: ShareFS) -> None:
    h, _ = open_(share, "file.txt", access=F.MAXIMUM_ALLOWED)
    assert h.granted_access == F.FILE_ALL_ACCESS
    assert h.write(5, b"!") == 1
    h.close()


# -- case-insensitive lookup -----------------------------------------------------------------


def test_case_insensitive_lookup(share: ShareFS, share_dir: Path) -> None:
    h, action = open_(share, "DIR\\inner.TXT")
    assert action == F.FILE_OPENED
    assert h.path == os.path.join(share.root, "dir", "Inner.txt")
    assert h.stat().name == "Inner.txt"
    h.close()
    assert status_of(open_, share, "FILE.TXT", F.FILE_CREATE, access=RW) == (
        STATUS_OBJECT_NAME_COLLISION
    )
    h, action = open_(share, "FILE.TXT", F.FILE_OPEN_IF, access=RW)
    assert action == F.FILE_OPENED and h.path.endswith("file.txt")
    h.close()
    assert sorted(os.listdir(share_dir)).count("FILE.TXT") == 0


def test_case_insensitive_prefers_exact_then_sorted(share: ShareFS, share_dir: Path) -> None:
    (share_dir / "Mixed").write_text("1")
    (share_dir / "mixed").write_text("2")
    h, _ = open_(share, "mixed")
    assert h.name == "mixed"
    h.close()
    h, _ = open_(share, "MIXED")
    assert h.name == "Mixed"  # first in sorted order
    h.close()


# -- data path ---------------------------------------------------------------------------------


def test_read_write(share: ShareFS, share_dir: Path) -> None:
    h, _ = open_(share, "data.bin", F.FILE_CREATE, access=RW)
    assert h.write(0, memoryview(b"0123456789")) == 10
    assert h.write(F.APPEND_OFFSET, b"AB") == 2
    assert h.write(20, bytearray(b"Z")) == 1
    buf = bytearray(64)
    n = h.read_into(0, memoryview(buf))
    assert bytes(buf[:n]) == b"0123456789AB" + b"\x00" * 8 + b"Z"
    assert h.read_into(21, memoryview(buf)) == 0
    assert h.read_into(5, memoryview(buf)[:3]) == 3 and bytes(buf[:3]) == b"567"
    assert h.read_into(0, memoryview(buf)[:0]) == 0
    assert status_of(h.read_into, -1, memoryview(buf)) == STATUS_INVALID_PARAMETER
    assert status_of(h.write, -5, b"x") == STATUS_INVALID_PARAMETER
    assert status_of(h.write, (1 << 63) - 1, b"xx") == STATUS_INVALID_PARAMETER
    h.flush()
    h.close()
    assert (share_dir / "data.bin").read_bytes()[:12] == b"0123456789AB"
    assert status_of(h.read_into, 0, memoryview(buf)) == STATUS_FILE_CLOSED
    assert status_of(h.write, 0, b"x") == STATUS_FILE_CLOSED


def test_access_checks_on_data(share: ShareFS) -> None:
    h, _ = open_(share, "file.txt", access=READ)
    assert status_of(h.write, 0, b"x") == STATUS_ACCESS_DENIED
    assert status_of(h.flush) == STATUS_ACCESS_DENIED
    assert status_of(h.set_end_of_file, 0) == STATUS_ACCESS_DENIED
    h.close()
    h, _ = open_(share, "file.txt", access=C.FILE_READ_ATTRIBUTES)
    assert status_of(h.read_into, 0, memoryview(bytearray(4))) == STATUS_ACCESS_DENIED
    h.close()
    h, _ = open_(share, "file.txt", access=F.FILE_APPEND_DATA | F.FILE_READ_DATA)
    assert h.write(0, b"+") == 1  # append-only access writes at end of file
    buf = bytearray(10)
    assert bytes(buf[: h.read_into(0, memoryview(buf))]) == b"hello+"
    h.close()
    d, _ = open_(share, "dir")
    assert status_of(d.read_into, 0, memoryview(bytearray(4))) == STATUS_INVALID_DEVICE_REQUEST
    d.close()
    d, _ = open_(share, "dir", access=RW)
    assert status_of(d.write, 0, b"x") == STATUS_INVALID_DEVICE_REQUEST
    assert status_of(d.set_end_of_file, 0) == STATUS_INVALID_PARAMETER
    d.close()


def test_set_end_of_file_and_allocation(share: ShareFS, share_dir: Path) -> None:
    h, _ = open_(share, "file.txt", access=RW)
    h.set_end_of_file(100)
    assert (share_dir / "file.txt").stat().st_size == 100
    h.set_allocation(1 << 20)  # growing allocation leaves end of file alone
    assert h.stat().end_of_file == 100
    h.set_allocation(3)
    assert (share_dir / "file.txt").read_bytes() == b"hel"
    assert status_of(h.set_end_of_file, -1) == STATUS_INVALID_PARAMETER
    h.close()


def test_set_basic_info(share: ShareFS, share_dir: Path) -> None:
    h, _ = open_(share, "file.txt", access=RW)
    before = os.stat(share_dir / "file.txt")
    mtime = unix_ns_to_filetime(1_000_000_000 * 1_600_000_000)
    h.set_basic_info(0, -1, mtime, 12345, 0)
    after = os.stat(share_dir / "file.txt")
    assert after.st_mtime_ns == filetime_to_unix_ns(mtime)
    assert after.st_atime_ns == before.st_atime_ns
    assert h.stat().last_write_time == mtime
    h.set_basic_info(0, 0, 0, 0, FILE_ATTRIBUTE_READONLY | FILE_ATTRIBUTE_ARCHIVE)
    assert h.stat().file_attributes & FILE_ATTRIBUTE_READONLY
    h.set_basic_info(0, 0, 0, 0, FILE_ATTRIBUTE_ARCHIVE)
    assert not h.stat().file_attributes & FILE_ATTRIBUTE_READONLY
    assert status_of(h.set_basic_info, -3, 0, 0, 0, 0) == STATUS_INVALID_PARAMETER
    assert status_of(h.set_basic_info, 0, 0, 0, 0, FILE_ATTRIBUTE_DIRECTORY) == (
        STATUS_INVALID_PARAMETER
    )
    h.set_basic_info(0, 0, (1 << 63) - 1, 0, 0)  # far future: accepted, no overflow
    h.close()
    h, _ = open_(share, "file.txt", access=READ)
    assert status_of(h.set_basic_info, 0, 0, mtime, 0, 0) == STATUS_ACCESS_DENIED
    h.close()
    d, _ = open_(share, "dir", access=F.MAXIMUM_ALLOWED)
    d.set_basic_info(0, 0, mtime, 0, FILE_ATTRIBUTE_READONLY | FILE_ATTRIBUTE_DIRECTORY)
    assert (share_dir / "dir").stat().st_mode & stat.S_IWUSR  # ignored on directories
    assert d.stat().last_write_time == mtime
    d.close()


# -- FileStat -------------------------------------------------------------------------------


def test_filestat_attributes(share: ShareFS, share_dir: Path) -> None:
    (share_dir / ".hidden").write_text("h")
    h, _ = open_(share, ".hidden")
    st = h.stat()
    assert st.file_attributes == FILE_ATTRIBUTE_ARCHIVE | FILE_ATTRIBUTE_HIDDEN
    assert st.end_of_file == 1 and st.allocation_size % 4096 == 0
    assert st.file_id == os.stat(share_dir / ".hidden").st_ino
    assert st.creation_time <= st.last_write_time
    h.close()
    d, _ = open_(share, "dir")
    ds = d.stat()
    assert ds.file_attributes == FILE_ATTRIBUTE_DIRECTORY
    assert ds.end_of_file == 0 and ds.allocation_size == 0 and ds.name == "dir"
    d.close()


def test_volume_stats(share: ShareFS) -> None:
    v = share.volume_stats()
    assert v.total_bytes > 0 and 0 <= v.caller_free_bytes <= v.free_bytes <= v.total_bytes
    assert v.volume_serial == share.volume_stats().volume_serial
    assert v.volume_label == "share"


# -- delete on close ------------------------------------------------------------------------


def test_delete_on_close_file(share: ShareFS, share_dir: Path) -> None:
    h, _ = open_(share, "file.txt", F.FILE_OPEN, F.FILE_DELETE_ON_CLOSE, READ | F.DELETE)
    assert h.stat().delete_pending
    assert (share_dir / "file.txt").exists()
    h.close()
    assert not (share_dir / "file.txt").exists()
    h.close()  # idempotent


def test_delete_on_close_needs_delete_access(share: ShareFS) -> None:
    assert status_of(open_, share, "file.txt", F.FILE_OPEN, F.FILE_DELETE_ON_CLOSE, RW) == (
        STATUS_ACCESS_DENIED
    )
    h, _ = open_(share, "file.txt", access=RW)
    assert status_of(h.set_delete_on_close, True) == STATUS_ACCESS_DENIED
    h.close()


def test_delete_on_close_directories(share: ShareFS, share_dir: Path) -> None:
    assert (
        status_of(
            open_,
            share,
            "dir",
            F.FILE_OPEN,
            F.FILE_DELETE_ON_CLOSE | F.FILE_DIRECTORY_FILE,
            READ | F.DELETE,
        )
        == STATUS_DIRECTORY_NOT_EMPTY
    )
    d, _ = open_(share, "dir", access=READ | F.DELETE)
    assert status_of(d.set_delete_on_close, True) == STATUS_DIRECTORY_NOT_EMPTY
    d.close()
    assert (share_dir / "dir").is_dir()
    e, _ = open_(share, "empty", access=READ | F.DELETE)
    e.set_delete_on_close(True)
    e.set_delete_on_close(False)
    e.set_delete_on_close(True)
    e.close()
    assert not (share_dir / "empty").exists()
    n, action = open_(
        share, "newdir", F.FILE_CREATE, F.FILE_DIRECTORY_FILE | F.FILE_DELETE_ON_CLOSE, ALL
    )
    assert action == F.FILE_CREATED and (share_dir / "newdir").is_dir()
    n.close()
    assert not (share_dir / "newdir").exists()


def test_delete_on_close_cleared(share: ShareFS, share_dir: Path) -> None:
    h, _ = open_(share, "file.txt", access=READ | F.DELETE)
    h.set_delete_on_close(True)
    h.set_delete_on_close(False)
    h.close()
    assert (share_dir / "file.txt").exists()


def test_delete_on_close_does_not_delete_a_replacement(share: ShareFS, share_dir: Path) -> None:
    h, _ = open_(share, "file.txt", F.FILE_OPEN, F.FILE_DELETE_ON_CLOSE, READ | F.DELETE)
    os.rename(share_dir / "file.txt", share_dir / "moved.txt")
    (share_dir / "file.txt").write_text("new")
    h.close()
    assert (share_dir / "file.txt").read_text() == "new"


def test_delete_on_close_readonly_file(share: ShareFS, share_dir: Path) -> None:
    os.chmod(share_dir / "file.txt", 0o444)
    h, _ = open_(share, "file.txt", access=READ | F.DELETE)
    assert status_of(h.set_delete_on_close, True) == STATUS_CANNOT_DELETE
    h.close()


# -- rename ------------------------------------------------------------------------------------


def test_rename_simple_and_into_directory(share: ShareFS, share_dir: Path) -> None:
    h, _ = open_(share, "file.txt", access=READ | F.DELETE)
    h.rename("renamed.txt", False)
    assert (share_dir / "renamed.txt").exists() and not (share_dir / "file.txt").exists()
    assert h.smb_path == "renamed.txt" and h.path.endswith("renamed.txt")
    h.rename("\\DIR\\moved.txt", False)  # parent found case-insensitively
    assert (share_dir / "dir" / "moved.txt").read_text() == "hello"
    assert h.smb_path == "DIR\\moved.txt" and h.stat().name == "moved.txt"
    h.set_delete_on_close(True)
    h.close()
    assert not (share_dir / "dir" / "moved.txt").exists()


def test_rename_collisions(share: ShareFS, share_dir: Path) -> None:
    (share_dir / "other.txt").write_text("other")
    h, _ = open_(share, "file.txt", access=READ | F.DELETE)
    assert status_of(h.rename, "other.txt", False) == STATUS_OBJECT_NAME_COLLISION
    assert status_of(h.rename, "OTHER.TXT", False) == STATUS_OBJECT_NAME_COLLISION
    assert status_of(h.rename, "dir", True) == STATUS_ACCESS_DENIED
    h.rename("OTHER.TXT", True)  # replaces other.txt, takes the client's spelling
    assert sorted(n for n in os.listdir(share_dir) if n.lower().endswith(".txt")) == ["OTHER.TXT"]
    assert (share_dir / "OTHER.TXT").read_text() == "hello"
    h.close()


def test_rename_case_only(share: ShareFS, share_dir: Path) -> None:
    h, _ = open_(share, "file.txt", access=READ | F.DELETE)
    h.rename("File.TXT", False)
    assert "File.TXT" in os.listdir(share_dir) and "file.txt" not in os.listdir(share_dir)
    h.rename("File.TXT", False)  # renaming onto itself is fine
    h.close()


def test_rename_hostile_targets(share: ShareFS, share_dir: Path) -> None:
    h, _ = open_(share, "file.txt", access=READ | F.DELETE)
    assert status_of(h.rename, "..\\escaped.txt", False) == STATUS_OBJECT_PATH_SYNTAX_BAD
    assert status_of(h.rename, "a:b", False) == STATUS_OBJECT_NAME_INVALID
    assert status_of(h.rename, "link_out\\x.txt", False) == STATUS_ACCESS_DENIED
    assert status_of(h.rename, "link_parent\\x.txt", False) == STATUS_ACCESS_DENIED
    assert status_of(h.rename, "nope\\x.txt", False) == STATUS_OBJECT_PATH_NOT_FOUND
    assert status_of(h.rename, "", False) == STATUS_OBJECT_NAME_INVALID
    h.close()
    assert os.listdir(share_dir.parent / "outside") == ["secret.txt"]
    h, _ = open_(share, "file.txt", access=READ)
    assert status_of(h.rename, "x.txt", False) == STATUS_ACCESS_DENIED  # no DELETE access
    h.close()


def test_rename_directory(share: ShareFS, share_dir: Path) -> None:
    d, _ = open_(share, "dir", access=READ | F.DELETE)
    d.rename("dir2", False)
    assert (share_dir / "dir2" / "Inner.txt").exists()
    assert status_of(d.rename, "dir2\\sub", False) == STATUS_INVALID_PARAMETER
    assert status_of(d.rename, "file.txt", True) == STATUS_ACCESS_DENIED
    assert [e.name for e in d.list_directory("inner*")] == ["Inner.txt"]
    d.close()


# -- read-only shares ----------------------------------------------------------------------


def test_read_only_share(share_dir: Path) -> None:
    ro = ShareFS(str(share_dir), read_only=True)
    h, action = open_(ro, "file.txt")
    assert action == F.FILE_OPENED
    buf = bytearray(8)
    assert h.read_into(0, memoryview(buf)) == 5
    for call in (
        lambda: h.write(0, b"x"),
        lambda: h.set_end_of_file(0),
        lambda: h.set_allocation(0),
        lambda: h.set_basic_info(0, 0, 0, 0, FILE_ATTRIBUTE_READONLY),
        lambda: h.set_delete_on_close(True),
        lambda: h.rename("x.txt", False),
    ):
        assert status_of(call) == STATUS_ACCESS_DENIED
    h.close()
    h, _ = open_(ro, "file.txt", access=F.MAXIMUM_ALLOWED)
    assert h.granted_access == F.READ_ONLY_ACCESS
    h.close()
    for disposition in (F.FILE_SUPERSEDE, F.FILE_CREATE, F.FILE_OVERWRITE, F.FILE_OVERWRITE_IF):
        assert status_of(open_, ro, "file.txt", disposition) == STATUS_ACCESS_DENIED
        assert status_of(open_, ro, "new.txt", disposition) == STATUS_ACCESS_DENIED
    assert status_of(open_, ro, "new.txt", F.FILE_OPEN_IF) == STATUS_ACCESS_DENIED
    assert status_of(open_, ro, "file.txt", access=RW) == STATUS_ACCESS_DENIED
    assert status_of(open_, ro, "file.txt", access=ALL) == STATUS_ACCESS_DENIED
    assert status_of(open_, ro, "file.txt", access=READ | F.DELETE) == STATUS_ACCESS_DENIED
    assert (
        status_of(open_, ro, "file.txt", F.FILE_OPEN, F.FILE_DELETE_ON_CLOSE, F.MAXIMUM_ALLOWED)
        == STATUS_ACCESS_DENIED
    )
    h, action = open_(ro, "file.txt", F.FILE_OPEN_IF)
    assert action == F.FILE_OPENED
    h.close()
    d, _ = open_(ro, "dir", access=F.MAXIMUM_ALLOWED)
    assert [e.name for e in d.list_directory("*")] == [".", "..", "Inner.txt"]
    d.close()
    assert sorted(os.listdir(share_dir)) == sorted(
        [
            "dir",
            "file.txt",
            "empty",
            "link_out",
            "link_out_file",
            "link_parent",
            "link_root",
            "link_in",
            "link_abs_in",
            "link_file",
            "dangling",
            "dangling_out",
        ]
    )


# -- directory listing ---------------------------------------------------------------------


def test_list_directory_root(share: ShareFS, share_dir: Path) -> None:
    (share_dir / "bad:name").write_text("x")
    (share_dir / "trail.").write_text("x")
    (share_dir / "Zeta.TXT").write_text("x")
    (share_dir / ".dot").write_text("x")
    d, _ = open_(share, "")
    entries = d.list_directory("*")
    names = [e.name for e in entries]
    assert names[:2] == [".", ".."]
    assert names[2:] == [
        ".dot",
        "dir",
        "empty",
        "file.txt",
        "link_abs_in",
        "link_file",
        "link_in",
        "link_root",
        "trail.",  # listed and openable, as NTFS does (a name with ':' is not)
        "Zeta.TXT",
    ]
    by = {e.name: e for e in entries}
    assert by["dir"].is_directory and by["link_in"].is_directory
    assert by[".dot"].file_attributes & FILE_ATTRIBUTE_HIDDEN
    assert not by["."].file_attributes & FILE_ATTRIBUTE_HIDDEN
    assert by["link_file"].end_of_file == 5
    assert by[".."].file_id == by["."].file_id  # the root's parent is the root itself
    assert [e.name for e in d.list_directory("*.txt")] == ["file.txt", "Zeta.TXT"]
    assert [e.name for e in d.list_directory("FILE.TXT")] == ["file.txt"]
    assert [e.name for e in d.list_directory("zeta.txt")] == ["Zeta.TXT"]
    assert d.list_directory("missing") == []
    assert [e.name for e in d.list_directory("")][:2] == [".", ".."]
    assert [e.name for e in d.list_directory('<"*')] == names
    assert [e.name for e in d.list_directory("li?k_in")] == ["link_in"]
    d.close()


def test_list_directory_subdir_and_errors(share: ShareFS) -> None:
    d, _ = open_(share, "dir")
    entries = d.list_directory("*")
    assert [e.name for e in entries] == [".", "..", "Inner.txt"]  # up2 escapes: hidden
    assert entries[1].is_directory
    assert status_of(d.list_directory, "a\\b") == STATUS_OBJECT_NAME_INVALID
    assert status_of(d.list_directory, "a:b") == STATUS_OBJECT_NAME_INVALID
    assert status_of(d.list_directory, "x" * 256) == STATUS_OBJECT_NAME_INVALID
    d.close()
    assert status_of(d.list_directory, "*") == STATUS_FILE_CLOSED
    f, _ = open_(share, "file.txt")
    assert status_of(f.list_directory, "*") == STATUS_INVALID_PARAMETER
    f.close()


def test_list_directory_sees_new_files(share: ShareFS, share_dir: Path) -> None:
    d, _ = open_(share, "empty")
    assert [e.name for e in d.list_directory("*")] == [".", ".."]
    (share_dir / "empty" / "late.txt").write_text("x")
    assert [e.name for e in d.list_directory("*")] == [".", "..", "late.txt"]
    d.close()


def test_context_manager(share: ShareFS) -> None:
    with open_(share, "file.txt")[0] as h:
        assert not h.closed
    assert h.closed


def test_share_root_must_be_directory(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(NotADirectoryError):
        ShareFS(str(tmp_path / "f"))
    with pytest.raises(FileNotFoundError):  # the precise cause, for the server's event
        ShareFS(str(tmp_path / "missing"))


# -- data transfers run with the core lock released ---------------------------------------------


def test_a_transfer_releases_the_core_lock_and_a_close_meanwhile_waits_for_it(
    share: ShareFS, share_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a worker thread (concurrency.serving) preadv/pwrite/fsync run with the core lock
    released; another thread that closes the open in that time does not close the
    descriptor under the transfer: the read returns the file's bytes and the descriptor is
    closed once it is over."""
    import threading

    from lanman.concurrency import serving

    core = threading.Lock()
    f, _ = open_(share, "file.txt", access=RW)
    fd = f.fd
    in_io, go_on = threading.Event(), threading.Event()
    real_preadv = os.preadv

    def slow_preadv(fd_, bufs, offset):
        in_io.set()
        assert go_on.wait(10)
        return real_preadv(fd_, bufs, offset)

    monkeypatch.setattr(F.os, "preadv", slow_preadv)
    got: list = []

    def worker() -> None:
        with core, serving(core.release, core.acquire):
            buf = bytearray(16)
            got.append(bytes(buf[: f.read_into(0, memoryview(buf))]))

    t = threading.Thread(target=worker)
    t.start()
    try:
        assert in_io.wait(10)
        assert core.acquire(timeout=10), "the core lock was held across the read"
        try:
            f.close()  # another connection's request, under the core lock
            os.fstat(fd)  # still open: the read in flight owns it
        finally:
            core.release()
    finally:
        go_on.set()
        t.join(10)
    assert got == [b"hello"]
    with pytest.raises(OSError):
        os.fstat(fd)  # closed by the transfer's end
    assert f.closed and f.fd == -1


def test_writes_and_flush_outside_a_worker_keep_their_bookkeeping(
    share: ShareFS, share_dir: Path
) -> None:
    """On the event loop (no serving hooks) the same calls run in place: the write lands,
    FLUSH succeeds and a later close closes the descriptor at once."""
    f, _ = open_(share, "file.txt", access=RW)
    fd = f.fd
    assert f.write(0, b"HE") == 2
    f.flush()
    f.close()
    assert (share_dir / "file.txt").read_bytes() == b"HEllo"
    with pytest.raises(OSError):
        os.fstat(fd)
