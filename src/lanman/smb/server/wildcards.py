"""Search-pattern matching for QUERY_DIRECTORY (MS-FSA 2.1.4.4, FsRtlIsNameInExpression).

A pattern is compiled once into bit masks and matched as a nondeterministic automaton run
over the name: every pattern position is one bit, all live positions advance together, so
the cost is O(len(name)) big-integer steps whatever the pattern (no backtracking: ``*``
thirty times followed by ``Z`` costs what ``*Z`` costs).

Wildcards (MS-FSA 2.1.4.4):

- ``*`` any run of characters, including none;
- ``?`` exactly one character;
- ``<`` (DOS_STAR) any run that does not take the name's last ``.``;
- ``>`` (DOS_QM) one character other than ``.``, or nothing before a ``.`` or the end;
- ``"`` (DOS_DOT) a ``.``, or nothing at the end of the name.

Comparison is case-insensitive per character, as Windows' upcase table is (a character whose
upper case is more than one character, such as ``ß``, compares as itself).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

WILDCARDS = frozenset('*?<>"')

# Patterns every name matches; clients send them for "list everything".
_MATCH_ALL = frozenset({"", "*", "*.*", '<"*'})


def _up(ch: str) -> str:
    u = ch.upper()
    return u if len(u) == 1 else ch


@dataclass(frozen=True, slots=True)
class _Automaton:
    """Bit ``i`` stands for "the next pattern element to match is element ``i``"."""

    final: int  # the bit reached when the whole pattern is consumed
    literal: dict[str, int]  # upper-cased character -> elements that consume exactly it
    any_one: int  # ``?``: consumes any character
    qm: int  # ``>``: consumes a non-dot character
    dot: int  # ``"``: consumes a dot
    stay: int  # ``*``: consumes any character and stays
    dos_star: int  # ``<``: consumes a character (not the last dot) and stays
    skip: int  # ``*`` and ``<``: may match nothing
    skip_before_dot: int  # ``>``: may match nothing when a dot comes next
    skip_at_end: int  # ``>`` and ``"``: may match nothing at the end of the name


@lru_cache(maxsize=512)
def _compile(pattern: str) -> _Automaton:
    elements: list[str] = []
    for ch in pattern:
        if ch == "*" and elements and elements[-1] == "*":
            continue  # "**" is "*"
        elements.append(ch)
    literal: dict[str, int] = {}
    any_one = qm = dot = stay = dos_star = skip = before_dot = at_end = 0
    for i, ch in enumerate(elements):
        bit = 1 << i
        if ch == "*":
            stay |= bit
            skip |= bit
        elif ch == "?":
            any_one |= bit
        elif ch == "<":
            dos_star |= bit
            skip |= bit
        elif ch == ">":
            qm |= bit
            before_dot |= bit
            at_end |= bit
        elif ch == '"':
            dot |= bit
            at_end |= bit
        else:
            u = _up(ch)
            literal[u] = literal.get(u, 0) | bit
    return _Automaton(
        final=1 << len(elements),
        literal=literal,
        any_one=any_one,
        qm=qm,
        dot=dot,
        stay=stay,
        dos_star=dos_star,
        skip=skip,
        skip_before_dot=before_dot,
        skip_at_end=at_end,
    )


def _closure(live: int, passable: int) -> int:
    """Follow the elements in ``passable`` that may match nothing (bounded by their run)."""
    while True:
        nxt = live | ((live & passable) << 1)
        if nxt == live:
            return live
        live = nxt


def pattern_matches(pattern: str, name: str) -> bool:
    """Whether ``name`` matches the search ``pattern`` as a whole (MS-FSA 2.1.4.4)."""
    if pattern in _MATCH_ALL:
        return True
    a = _compile(pattern)
    last_dot = name.rfind(".")
    live = 1
    for k, ch in enumerate(name):
        is_dot = ch == "."
        live = _closure(live, a.skip | a.skip_before_dot if is_dot else a.skip)
        if is_dot:
            moves = a.literal.get(".", 0) | a.any_one | a.dot
            stays = a.stay if k == last_dot else a.stay | a.dos_star
        else:
            moves = a.literal.get(_up(ch), 0) | a.any_one | a.qm
            stays = a.stay | a.dos_star
        live = ((live & moves) << 1) | (live & stays)
        if not live:
            return False
    live = _closure(live, a.skip | a.skip_at_end)
    return bool(live & a.final)


def has_wildcards(pattern: str) -> bool:
    """True when a QUERY_DIRECTORY pattern uses any of ``* ? < > "`` (MS-FSA 2.1.4.4)."""
    return any(ch in WILDCARDS for ch in pattern)


__all__ = ["WILDCARDS", "has_wildcards", "pattern_matches"]
