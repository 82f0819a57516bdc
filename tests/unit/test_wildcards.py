"""QUERY_DIRECTORY wildcard matching (MS-FSA 2.1.4.4) against a definitional oracle."""

from __future__ import annotations

from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as hst

from lanman.smb.server.wildcards import has_wildcards, pattern_matches


def _oracle(pattern: str, name: str) -> bool:
    """MS-FSA 2.1.4.4 read literally, as a memoized recursion over (pattern, name) positions."""
    last_dot = name.rfind(".")

    def up(c: str) -> str:
        u = c.upper()
        return u if len(u) == 1 else c

    @cache
    def m(i: int, k: int) -> bool:
        if i == len(pattern):
            return k == len(name)
        c = pattern[i]
        more = k < len(name)
        ch = name[k] if more else ""
        if c == "*":
            return m(i + 1, k) or (more and m(i, k + 1))
        if c == "?":
            return more and m(i + 1, k + 1)
        if c == "<":
            return m(i + 1, k) or (more and not (ch == "." and k == last_dot) and m(i, k + 1))
        if c == ">":
            if more and ch != ".":
                return m(i + 1, k + 1)
            return m(i + 1, k)
        if c == '"':
            if more and ch == ".":
                return m(i + 1, k + 1)
            return not more and m(i + 1, k)
        return more and up(ch) == up(c) and m(i + 1, k + 1)

    return m(0, 0)


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("<", "a.b", False),  # DOS_STAR never takes the last dot
        ("<", "ab", True),
        ("<.*", "a.b.c", True),
        ("<.b", "a.x.b", True),
        ("a>", "a", True),
        ("a>", "ab", True),
        ("a>", "abc", False),
        (">>>>>>>>.>>>", "abc.d", True),  # cmd's "????????.???" after 8.3 conversion
        (">>>>>>>>.>>>", "abcdefghi.d", False),
        ('a"', "a.", True),
        ('a"b', "a.b", True),
        ('a"b', "ab", False),
        ("*" * 30 + "Z", "x" * 200, False),
        ("*" * 30 + "Z", "x" * 200 + "z", True),
        ("*?*?*?*?*?*?*?*?*?*?*?*?b", "a" * 240, False),
        ("STRASSE", "straße", False),  # no multi-character case folding
        ("straße", "STRAßE", True),
        ("Ä*", "ärger", True),
    ],
)
def test_truth_table(pattern: str, name: str, expected: bool) -> None:
    assert pattern_matches(pattern, name) is expected
    assert _oracle(pattern, name) is expected


_ALPHABET = 'ab.A*?<>"'


@settings(max_examples=3000, deadline=None)
@given(
    pattern=hst.text(alphabet=_ALPHABET, max_size=8),
    name=hst.text(alphabet="abAB.", max_size=8),
)
def test_agrees_with_oracle(pattern: str, name: str) -> None:
    if pattern in ("", "*", "*.*", '<"*'):
        assert pattern_matches(pattern, name)  # "list everything" forms
        return
    assert pattern_matches(pattern, name) is _oracle(pattern, name)


def test_cost_does_not_grow_with_stars() -> None:
    """The automaton has one state per distinct element: thirty stars are one star."""
    from lanman.smb.server import wildcards

    many = wildcards._compile("*" * 30 + "Z")
    one = wildcards._compile("*Z")
    assert many == one
    assert many.final == 1 << 2


def test_has_wildcards() -> None:
    assert has_wildcards('a"') and has_wildcards("x>") and not has_wildcards("plain.txt")
