"""Share path rules and wildcard matching (lanman.smb.server.fs_paths)."""

from __future__ import annotations

import errno

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst

from lanman.errors.ntstatus import (
    STATUS_ACCESS_DENIED,
    STATUS_DIRECTORY_NOT_EMPTY,
    STATUS_OBJECT_NAME_INVALID,
    STATUS_OBJECT_NAME_NOT_FOUND,
    STATUS_OBJECT_PATH_NOT_FOUND,
    STATUS_OBJECT_PATH_SYNTAX_BAD,
    NtStatusError,
)
from lanman.smb.server.fs_paths import (
    STATUS_UNEXPECTED_IO_ERROR,
    component_error,
    split_smb_path,
    status_from_oserror,
)
from lanman.smb.server.wildcards import has_wildcards, pattern_matches


@pytest.mark.parametrize(
    ("path", "parts"),
    [
        ("", []),
        ("\\", []),
        ("a", ["a"]),
        ("\\a\\b", ["a", "b"]),
        ("a\\b\\", ["a", "b"]),
        ("dir with space\\file.tar.gz", ["dir with space", "file.tar.gz"]),
        (".hidden", [".hidden"]),
        ("...x", ["...x"]),
        (" lead", [" lead"]),
        ("Ünïcødé\\日本語.txt", ["Ünïcødé", "日本語.txt"]),
        ("CONSOLE\\COM10\\LPT0", ["CONSOLE", "COM10", "LPT0"]),
        ("x" * 255, ["x" * 255]),
        ("name.", ["name."]),  # NTFS takes trailing dots and spaces from SMB clients
        ("name ", ["name "]),
        ("dir\\sub. \\f", ["dir", "sub. ", "f"]),
    ],
)
def test_valid_paths(path: str, parts: list[str]) -> None:
    assert split_smb_path(path) == parts


INVALID = [
    "a\\..",
    "a\\..\\b",
    ".",
    "a\\.\\b",
    "\\\\?\\C:\\x",
    "C:",
    "C:\\Windows",
    "file.txt:stream",
    "file.txt::$DATA",
    "a\x00b",
    "a\x01",
    "a\x1f",
    "a/b",
    "/etc/passwd",
    "*",
    "a?",
    "a<",
    "a>",
    'a"',
    "a|b",
    "CON",
    "con.txt",
    "dir\\NUL",
    "COM1",
    "lpt9.log",
    "aux ",
    "PRN.tar.gz",
    "CONIN$",
    "x" * 256,
    "a\\" + "y" * 256,
    "é" * 128,
    "\\".join(["a"] * 20000),
    "\\\\",
    "a\\\\b",
    "\\\\server\\share",
    "\ud800",
]


@pytest.mark.parametrize("path", INVALID)
def test_invalid_paths(path: str) -> None:
    with pytest.raises(NtStatusError) as e:
        split_smb_path(path)
    assert e.value.status == STATUS_OBJECT_NAME_INVALID


@pytest.mark.parametrize("path", ["..", "..\\x", "a\\..\\..\\etc", "\\..\\..\\etc\\passwd"])
def test_paths_above_the_share_root_are_bad_syntax(path: str) -> None:
    # Windows' answer for a path that climbs above the share (smbtorture smb2.mkdir)
    with pytest.raises(NtStatusError) as e:
        split_smb_path(path)
    assert e.value.status == STATUS_OBJECT_PATH_SYNTAX_BAD


def test_component_error_messages() -> None:
    assert component_error("ok.txt") is None
    assert "reserved" in (component_error("nul.txt") or "")
    assert "U+003A" in (component_error("a:b") or "")


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("*", "anything", True),
        ("*", ".", True),
        ("*.txt", "A.TXT", True),
        ("*.txt", "a.txt.bak", False),
        ("file?.txt", "file1.txt", True),
        ("file?.txt", "file12.txt", False),
        ("FILE.TXT", "file.txt", True),
        ("a*b*c", "aXXbYYc", True),
        ("a*b*c", "aXXbYY", False),
        ('<"*', "noext", True),
        ('<"*', "x.y.z", True),
        ("<.txt", "a.b.txt", True),
        ("<.txt", "a.txt.b", False),
        ("file>>>.txt", "file.txt", True),
        ("file>>>.txt", "file12.txt", True),
        ("file>>>.txt", "file1234.txt", False),
        ('name"', "name", True),
        ('name"', "name.", True),
        ("a.c", "abc", False),
        ("[ab]", "a", False),
        ("[ab]", "[ab]", True),
    ],
)
def test_pattern_matches(pattern: str, name: str, expected: bool) -> None:
    assert pattern_matches(pattern, name) is expected


def test_has_wildcards() -> None:
    assert has_wildcards("*.txt") and has_wildcards('a"') and has_wildcards("<")
    assert not has_wildcards("plain.txt")


def test_errno_mapping() -> None:
    def st(code: int, **kw: bool) -> int:
        return status_from_oserror(OSError(code, "x"), **kw)

    assert st(errno.ENOENT) == STATUS_OBJECT_NAME_NOT_FOUND
    assert st(errno.ENOENT, parent_missing=True) == STATUS_OBJECT_PATH_NOT_FOUND
    assert st(errno.EACCES) == STATUS_ACCESS_DENIED
    assert st(errno.EPERM) == STATUS_ACCESS_DENIED
    assert st(errno.ENOTEMPTY) == STATUS_DIRECTORY_NOT_EMPTY
    assert st(errno.ENAMETOOLONG) == STATUS_OBJECT_NAME_INVALID
    assert st(12345) == STATUS_UNEXPECTED_IO_ERROR


@settings(max_examples=500, deadline=None)
@given(
    hst.text(alphabet=hst.characters(codec="utf-8") | hst.sampled_from(list("\\.:/ ")), max_size=60)
)
def test_split_never_yields_climbing_components(path: str) -> None:
    try:
        parts = split_smb_path(path)
    except NtStatusError as e:
        assert e.status == STATUS_OBJECT_NAME_INVALID
        return
    for part in parts:
        assert part not in ("", ".", "..")
        assert not set(part) & set('\\/:*?"<>|')
        assert component_error(part) is None


@pytest.mark.parametrize(
    "path",
    [
        # "/" is an invalid name character here: a CREATE turns it into "\\" before
        # (files.py), a rename target keeps it and is refused
        "smb2-timestamps/testfile.dat",
        "dir\\a/b",
        "a/..\\..\\b",
        # smbtorture smb2.notify tree: "zqy\\.." is never normalised
        "notify\\zqy\\..",
    ],
)
def test_paths_torture_sends_that_stay_invalid(path: str) -> None:
    with pytest.raises(NtStatusError) as e:
        split_smb_path(path)
    assert e.value.status == STATUS_OBJECT_NAME_INVALID


@pytest.mark.parametrize("path", [".a", "a.b", "..a", "$~._-", "ABCDE~1.B"])
def test_dots_inside_a_name_are_fine(path: str) -> None:
    assert split_smb_path(path) == [path]


@pytest.mark.parametrize(
    ("path", "last"),
    [
        # smbtorture smb2.mangle generates names that end in "." (NTFS takes them)
        ("mangle_test\\Ajjjjcrk44R5vz9.", "Ajjjjcrk44R5vz9."),
        ("mangle_test\\...", "..."),
        ("a..", "a.."),
    ],
)
def test_paths_torture_sends_that_are_names(path: str, last: str) -> None:
    assert split_smb_path(path)[-1] == last
