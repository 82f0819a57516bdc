"""Inheritance: the security descriptor of a new file or directory from its parent's
(MS-DTYP 2.5.3.4, CreateSecurityDescriptor / ComputeACL), for the file server."""

from __future__ import annotations

from lanman.security.ace import (
    CONTAINER_INHERIT,
    INHERIT_ONLY,
    INHERITED,
    NO_PROPAGATE_INHERIT,
    OBJECT_INHERIT,
    Ace,
)
from lanman.security.acl import Acl
from lanman.security.descriptor import (
    SE_DACL_AUTO_INHERITED,
    SE_DACL_PRESENT,
    SE_DACL_PROTECTED,
    SE_SACL_AUTO_INHERITED,
    SE_SACL_PRESENT,
    SE_SACL_PROTECTED,
    SE_SELF_RELATIVE,
    SecurityDescriptor,
)
from lanman.security.rights import FILE_GENERIC_MAPPING, GenericMapping, map_generic

__all__ = ["inherit_acl", "inherit_sd"]

CREATOR_OWNER = "S-1-3-0"
CREATOR_GROUP = "S-1-3-1"
_INHERIT_FLAGS = OBJECT_INHERIT | CONTAINER_INHERIT | NO_PROPAGATE_INHERIT | INHERIT_ONLY


def _copy(ace: Ace, flags: int, sid: str | None = None, mask: int | None = None) -> Ace:
    return Ace(
        ace.type,
        flags,
        ace.mask if mask is None else mask,
        ace.sid if sid is None else sid,
        ace.object_type,
        ace.inherited_object_type,
        ace.application_data,
        ace.opaque,
    )


def inherit_acl(
    parent: Acl | None,
    *,
    is_container: bool,
    owner: str,
    group: str | None,
    mapping: GenericMapping = FILE_GENERIC_MAPPING,
) -> list[Ace]:
    """The ACEs a child inherits from ``parent`` (MS-DTYP 2.5.3.4.2).

    A file takes the OI ACEs as effective ACEs. A directory takes CI ACEs (keeping OI/CI
    unless NP) and OI-only ACEs as inherit-only. An ACE for CREATOR OWNER/GROUP or with
    generic rights that is still inheritable is split in two: an effective ACE (SID
    replaced, rights mapped) and the inherit-only original. All get the INHERITED flag.
    """
    out: list[Ace] = []
    if parent is None:
        return out
    for ace in parent.aces:
        f = ace.flags
        if ace.info.opaque or not f & (OBJECT_INHERIT | CONTAINER_INHERIT):
            continue
        sid = {CREATOR_OWNER: owner, CREATOR_GROUP: group}.get(ace.sid, ace.sid) or ace.sid
        mapped = map_generic(ace.mask, mapping)
        if not is_container:
            if f & OBJECT_INHERIT:
                out.append(_copy(ace, INHERITED, sid, mapped))
            continue
        if f & CONTAINER_INHERIT:
            if f & NO_PROPAGATE_INHERIT:
                out.append(_copy(ace, INHERITED, sid, mapped))
                continue
            keep = f & (OBJECT_INHERIT | CONTAINER_INHERIT)
            if sid != ace.sid or mapped != ace.mask:
                out.append(_copy(ace, INHERITED, sid, mapped))
                out.append(_copy(ace, keep | INHERIT_ONLY | INHERITED))
            else:
                out.append(_copy(ace, keep | INHERITED))
        elif not f & NO_PROPAGATE_INHERIT:  # OI only: passes through to files below
            out.append(
                _copy(ace, (f & ~_INHERIT_FLAGS) | OBJECT_INHERIT | INHERIT_ONLY | INHERITED)
            )
    return out


def inherit_sd(
    parent: SecurityDescriptor,
    *,
    is_container: bool,
    owner: str,
    group: str | None = None,
    creator: SecurityDescriptor | None = None,
    default_dacl: Acl | None = None,
    mapping: GenericMapping = FILE_GENERIC_MAPPING,
) -> SecurityDescriptor:
    """The descriptor of a new object under ``parent`` (MS-DTYP 2.5.3.4).

    ``creator`` is the descriptor the client asked for (its explicit ACEs come first; a
    protected ACL of it takes nothing from the parent); ``owner``/``group`` come from the
    creator's token unless ``creator`` names them; ``default_dacl`` (the token's default
    DACL) is used when there is neither an explicit nor an inherited ACE.
    """
    owner = creator.owner if creator and creator.owner else owner
    group = creator.group if creator and creator.group else group
    sd = SecurityDescriptor(owner, group, control=SE_SELF_RELATIVE)
    for is_dacl in (True, False):
        p_acl = parent.dacl if is_dacl else parent.sacl
        c_acl = (creator.dacl if is_dacl else creator.sacl) if creator else None
        protected_bit = SE_DACL_PROTECTED if is_dacl else SE_SACL_PROTECTED
        auto_bit = SE_DACL_AUTO_INHERITED if is_dacl else SE_SACL_AUTO_INHERITED
        present_bit = SE_DACL_PRESENT if is_dacl else SE_SACL_PRESENT
        protected = bool(creator and creator.control & protected_bit)
        explicit = [a for a in c_acl.aces if not a.flags & INHERITED] if c_acl else []
        inherited = (
            []
            if protected
            else inherit_acl(
                p_acl, is_container=is_container, owner=owner, group=group, mapping=mapping
            )
        )
        if not explicit and not inherited:
            if is_dacl and c_acl is None:
                acl = default_dacl
            else:
                acl = Acl([]) if c_acl is not None else None
        else:
            acl = Acl(explicit + inherited)
        if acl is None:
            continue
        sd.control |= present_bit
        if protected:
            sd.control |= protected_bit
        if inherited or parent.control & auto_bit:
            sd.control |= auto_bit
        if is_dacl:
            sd.dacl = acl
        else:
            sd.sacl = acl
    return sd
