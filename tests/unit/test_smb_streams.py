"""Alternate data streams (streams.py) and 8.3 short names (shortnames.py) through ShareFS."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as hst

from lanman.errors.ntstatus import (
    STATUS_DISK_FULL,
    STATUS_FILE_IS_A_DIRECTORY,
    STATUS_NOT_A_DIRECTORY,
    STATUS_OBJECT_NAME_COLLISION,
    STATUS_OBJECT_NAME_INVALID,
    STATUS_OBJECT_NAME_NOT_FOUND,
    NtStatusError,
)
from lanman.smb.server import fs as F
from lanman.smb.server import shortnames, streams
from lanman.smb.server.fs import ShareFS
from lanman.smb.wire import fileinfo as fi

ALL = F.GENERIC_ALL


@pytest.fixture
def share(tmp_path: Path) -> ShareFS:
    root = tmp_path / "share"
    root.mkdir()
    (root / "file.txt").write_text("hello")
    (root / "dir").mkdir()
    return ShareFS(str(root))


def open_(share: ShareFS, path: str, disposition: int = F.FILE_OPEN, options: int = 0):
    return share.open(
        path,
        desired_access=ALL,
        share_access=7,
        create_disposition=disposition,
        create_options=options,
        file_attributes=0,
    )


def status_of(fn, *a, **kw) -> int:  # type: ignore[no-untyped-def]
    with pytest.raises(NtStatusError) as e:
        fn(*a, **kw)
    return e.value.status


# -- names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "stream", "suffix"),
    [
        ("a\\f.txt", None, False),
        ("a\\f.txt:s", "s", False),
        ("f.txt:Stream One:$DaTa", "Stream One", False),
        ("f.txt::$DATA", None, True),
        ("f.txt:\x01", "\x01", False),
    ],
)
def test_split_stream_path(path: str, stream: str | None, suffix: bool) -> None:
    sp = streams.split_stream_path(path)
    assert (sp.stream, sp.data_suffix) == (stream, suffix)
    assert ":" not in sp.base


@pytest.mark.parametrize(
    "path", ["f:", "f:s:", "f:s:$FOO", "f:a:b:c", ":s", "d:x\\f:s", "f:a/b", "f:" + "x" * 300]
)
def test_split_stream_path_invalid(path: str) -> None:
    assert status_of(streams.split_stream_path, path) == STATUS_OBJECT_NAME_INVALID


@given(hst.text(max_size=40))
def test_split_stream_path_total(path: str) -> None:
    try:
        streams.split_stream_path(path)
    except NtStatusError as e:
        assert e.status == STATUS_OBJECT_NAME_INVALID


# -- streams through ShareFS ------------------------------------------------------------------


def test_stream_create_write_read_list_delete(share: ShareFS) -> None:
    assert status_of(open_, share, "file.txt:s") == STATUS_OBJECT_NAME_NOT_FOUND
    h, action = open_(share, "new.txt:Stream One", F.FILE_CREATE)  # creates the file too
    assert action == F.FILE_CREATED
    assert h.write(0, b"test data") == 9
    assert h.write(5, b"MORE DATA ") == 10
    assert h.stat().end_of_file == 15
    h.close()
    h, _ = open_(share, "NEW.TXT:stream one:$DATA")
    buf = bytearray(64)
    assert bytes(buf[: h.read_into(0, memoryview(buf))]) == b"test MORE DATA "
    entries = h.stream_entries()
    assert entries[0][:2] == ("", 0) and entries[1][:2] == ("Stream One", 15)
    data = fi.encode_file_info(fi.FILE_STREAM_INFORMATION, h.stat(), access_mask=0, streams=entries)
    assert ":Stream One:$DATA".encode("utf-16-le") in data and b"\x00" * 0 in data
    h.set_delete_on_close(True)
    h.close()
    assert status_of(open_, share, "new.txt:Stream One") == STATUS_OBJECT_NAME_NOT_FOUND
    f, _ = open_(share, "new.txt")
    assert f.stream_entries() == [("", 0, 0)]
    f.close()


def test_stream_dispositions_and_bounds(share: ShareFS) -> None:
    h, _ = open_(share, "file.txt:z", F.FILE_CREATE)
    h.close()
    assert status_of(open_, share, "file.txt:Z", F.FILE_CREATE) == STATUS_OBJECT_NAME_COLLISION
    h, action = open_(share, "file.txt:z", F.FILE_OVERWRITE_IF)
    assert action == F.FILE_OVERWRITTEN
    assert status_of(h.write, streams.MAX_STREAM_SIZE, b"x") == STATUS_DISK_FULL
    h.close()
    assert status_of(open_, share, "file.txt:z", options=F.FILE_DIRECTORY_FILE) == (
        STATUS_NOT_A_DIRECTORY
    )
    assert status_of(open_, share, "dir::$DATA") == STATUS_FILE_IS_A_DIRECTORY
    f, _ = open_(share, "file.txt::$DATA")
    assert f.stat().end_of_file == 5
    f.close()


def test_stream_rename(share: ShareFS) -> None:
    h, _ = open_(share, "file.txt:a", F.FILE_CREATE)
    h.write(0, b"A")
    h.rename(":b:$DATA", False)
    h.close()
    g, _ = open_(share, "file.txt:c", F.FILE_CREATE)
    assert status_of(g.rename, ":b", False) == STATUS_OBJECT_NAME_COLLISION
    g.rename(":b", True)
    g.close()
    names = [n for n, _, _ in open_(share, "file.txt")[0].stream_entries()]
    assert names == ["", "b"]


# -- short names ------------------------------------------------------------------------------


def test_short_name_rules() -> None:
    assert shortnames.is_8dot3("A.TXT") and shortnames.is_8dot3("readme")
    assert not shortnames.is_8dot3("a.b.c") and not shortnames.is_8dot3("longername.txt")
    s = shortnames.short_name("dlnunxz7hYxOpPr.ko")
    assert shortnames.is_8dot3(s) and "~" in s and s.endswith(".KO") and s == s.upper()
    assert shortnames.short_name("a.txt") == "A.TXT"
    assert shortnames.listing_short_name("a.txt") == ""
    assert shortnames.resolve(["x", "dlnunxz7hYxOpPr.ko"], s.lower()) == "dlnunxz7hYxOpPr.ko"


@given(hst.text(min_size=1, max_size=30))
def test_short_name_always_8dot3(name: str) -> None:
    assert shortnames.is_8dot3(shortnames.short_name(name))


def test_short_name_cache_is_bounded() -> None:
    c = shortnames.ShortNameCache(cap=3)
    for i in range(10):
        c.remember("d", f"a long file name {i}.txt")
    assert len(c) == 3


def test_open_and_recreate_by_short_name(share: ShareFS) -> None:
    h, _ = open_(share, "dir\\A Long Name.text", F.FILE_CREATE)
    short = h.alternate_name()
    assert short is not None and "~" in short
    h.close()
    h, _ = open_(share, f"dir\\{short}")
    assert h.name == "A Long Name.text"
    h.set_delete_on_close(True)
    h.close()
    h, _ = open_(share, f"dir\\{short}", F.FILE_CREATE)  # comes back under its long name
    assert h.name == "A Long Name.text"
    h.close()
    d, _ = open_(share, "dir")
    (entry,) = [e for e in d.list_directory("*") if e.name == "A Long Name.text"]
    assert entry.short_name == short
    d.close()
