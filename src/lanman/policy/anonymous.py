"""Pure decisions for anonymous (null) sessions: RestrictAnonymous, RestrictNullSessAccess,
NullSessionPipes and NullSessionShares (docs/SOURCES.md anonymous; the catalogue entries
``Lsa.RestrictAnonymous`` ... ``LanmanServer.NullSessionShares`` cite Microsoft's pages).

* RestrictNullSessAccess = 1 (every modern release's default): an anonymous session may open
  only the named pipes in NullSessionPipes and connect only to the shares in NullSessionShares;
  anything else is STATUS_ACCESS_DENIED. IPC$ itself is always reachable (the restriction is on
  the pipes opened on it).
* RestrictAnonymous = 1: NetrShareEnum (MS-SRVS 3.1.4.8) of an anonymous caller fails with
  ERROR_ACCESS_DENIED even where the pipe may be opened.
* RestrictAnonymousSAM governs SAMR enumeration; lanman serves no SAMR, so nothing reads it.

Names compare case-insensitively; a pipe is named by what follows the last backslash
(KB 126645: ``\\\\host\\pipe\\mypipe`` is ``mypipe``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = [
    "AnonymousPolicy",
    "anonymous_pipe_allowed",
    "anonymous_share_allowed",
    "anonymous_share_enum_allowed",
    "pipe_key",
]


def pipe_key(name: str) -> str:
    """``\\PIPE\\SrvSvc`` -> ``srvsvc``: what follows the last backslash, case-folded."""
    return name.replace("/", "\\").rstrip("\\").rsplit("\\", 1)[-1].casefold()


def _keys(names: Iterable[str]) -> frozenset[str]:
    return frozenset(pipe_key(n) for n in names if n.strip())


@dataclass(frozen=True, slots=True)
class AnonymousPolicy:
    """The effective anonymous-access values a server obeys (Windows 11 defaults)."""

    restrict_anonymous: int = 0
    restrict_anonymous_sam: int = 1
    restrict_null_sess_access: bool = True
    null_session_pipes: frozenset[str] = field(default_factory=frozenset)
    null_session_shares: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(
        cls,
        restrict_anonymous: int | None = 0,
        restrict_anonymous_sam: int | None = 1,
        restrict_null_sess_access: int | None = 1,
        null_session_pipes: Iterable[str] | None = (),
        null_session_shares: Iterable[str] | None = (),
    ) -> AnonymousPolicy:
        """From effective registry values; None (the release does not read it) counts as the
        most permissive documented value for the Lsa values and as 'restricted' for
        RestrictNullSessAccess (Windows NT 3.5 and later restrict null sessions)."""
        return cls(
            restrict_anonymous=int(restrict_anonymous or 0),
            restrict_anonymous_sam=int(restrict_anonymous_sam or 0),
            restrict_null_sess_access=True
            if restrict_null_sess_access is None
            else bool(restrict_null_sess_access),
            null_session_pipes=_keys(null_session_pipes or ()),
            null_session_shares=frozenset(s.casefold() for s in (null_session_shares or ())),
        )


def anonymous_pipe_allowed(policy: AnonymousPolicy | None, pipe: str) -> bool:
    """May an anonymous session open named pipe ``pipe`` on IPC$?"""
    p = policy or AnonymousPolicy()
    return not p.restrict_null_sess_access or pipe_key(pipe) in p.null_session_pipes


def anonymous_share_allowed(policy: AnonymousPolicy | None, share: str, guest_ok: bool) -> bool:
    """May an anonymous session connect to disk share ``share``? Besides the policy the share
    must admit unauthenticated users (``--guest-ok``): an anonymous session holds no account,
    so no other permission can name it."""
    p = policy or AnonymousPolicy()
    if not guest_ok:
        return False
    return not p.restrict_null_sess_access or share.casefold() in p.null_session_shares


def anonymous_share_enum_allowed(policy: AnonymousPolicy | None) -> bool:
    """May an anonymous caller enumerate shares (srvsvc NetrShareEnum)? RestrictAnonymous 0."""
    p = policy or AnonymousPolicy()
    return p.restrict_anonymous == 0
