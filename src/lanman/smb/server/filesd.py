"""Per-file security descriptors: the store, the default, inheritance and the open check.

Storage (lanman's own format, not Samba's ``security.NTACL``): the extended attribute
``user.lanman.sd`` of the file or directory holds an 8-byte header -- magic ``b"LMSD"``,
format version (1), flags (0) and a reserved 16-bit zero -- followed by one self-relative
SECURITY_DESCRIPTOR (MS-DTYP 2.4.6) of at most :data:`MAX_SD_BYTES`. Anything else (wrong
magic or version, a descriptor that does not decode) is ignored and the object gets the
synthesized default, as an object without the attribute does.

The default (what Samba calls the POSIX-style ACL) is built from the Unix mode and owner:
the owner is the session's user when the session acts as the file's Unix owner, else the
account mapped to that Unix user (``lanman user set --unix-user``), else the server
(BUILTIN\\Administrators); the DACL holds one allow ACE per mode class (owner, group
= BUILTIN\\Users, other = Everyone) with ``r``/``w``/``x`` mapped to FILE_GENERIC_READ /
FILE_GENERIC_WRITE+DELETE / FILE_GENERIC_EXECUTE (``rwx``: FILE_ALL_ACCESS) for group and
other; the owner class gets FILE_ALL_ACCESS (a Unix owner can chmod its way to anything;
the ``w`` bit is the backend's FILE_ATTRIBUTE_READONLY), and so does an
Authenticated Users ACE for objects of the service account (for every object when it
is root): every session that is not mapped to a Unix user of its own acts as that account
on the host.
Directories' ACEs are inheritable (OI|CI).

Access (MS-FSA 2.1.5.1.2.1, MS-DTYP 2.5.3.2): the check of the object's descriptor against
the session's token, with DELETE also granted by the parent's FILE_DELETE_CHILD and
FILE_READ_ATTRIBUTES by the parent's FILE_LIST_DIRECTORY; creating needs FILE_ADD_FILE or
FILE_ADD_SUBDIRECTORY on the parent (MS-FSA 2.1.5.1.1), and the new object's descriptor is
inherited from the parent's (MS-DTYP 2.5.3.4) merged with the client's SecD create context.

Pure except :func:`read_stored`/:func:`write_stored`, the two xattr calls. What
:func:`load` reads is cached per inode and change time (sdcache.py); :func:`write_stored`
drops the entry of the object it writes.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat as stat_mod
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass

from lanman.errors import ntstatus as st
from lanman.errors.ntstatus import NtStatusError
from lanman.security.access import access_check
from lanman.security.ace import CONTAINER_INHERIT, INHERIT_ONLY, INHERITED, OBJECT_INHERIT, Ace
from lanman.security.acl import Acl
from lanman.security.descriptor import (
    SE_DACL_AUTO_INHERIT_REQ,
    SE_DACL_AUTO_INHERITED,
    SE_DACL_PRESENT,
    SE_DACL_PROTECTED,
    SE_SACL_AUTO_INHERIT_REQ,
    SE_SACL_AUTO_INHERITED,
    SE_SACL_PRESENT,
    SE_SACL_PROTECTED,
    SE_SELF_RELATIVE,
    SecurityDescriptor,
    decode_sd,
    encode_sd,
)
from lanman.security.errors import SecurityError
from lanman.security.inherit import inherit_sd
from lanman.security.rights import (
    ACCESS_SYSTEM_SECURITY,
    DELETE,
    FILE_GENERIC_MAPPING,
    MAXIMUM_ALLOWED,
    READ_CONTROL,
    WRITE_DAC,
    WRITE_OWNER,
    map_generic,
)
from lanman.security.token import SecurityToken

from .sdcache import DescriptorCache, descriptors

__all__ = [
    "MAX_SD_BYTES",
    "XATTR_NAME",
    "FileSecurity",
    "apply_set_info",
    "create_access",
    "inherited_for_new",
    "open_access",
    "pack_stored",
    "parse_secd_context",
    "query_blob",
    "read_stored",
    "synthesize",
    "unpack_stored",
    "write_stored",
]

XATTR_NAME = "user.lanman.sd"
_MAGIC = b"LMSD"
_VERSION = 1
_HEADER = struct.Struct("<4sBBH")
#: the largest descriptor stored or accepted from a client (an ACL is at most 64 KiB)
MAX_SD_BYTES = 64 * 1024

EVERYONE = "S-1-1-0"
AUTHENTICATED_USERS = "S-1-5-11"
BUILTIN_ADMINISTRATORS = "S-1-5-32-544"
BUILTIN_USERS = "S-1-5-32-545"

# MS-SMB2 2.2.13.1.2 directory access bits (aliases of the file bits)
FILE_LIST_DIRECTORY = 0x00000001
FILE_ADD_FILE = 0x00000002
FILE_ADD_SUBDIRECTORY = 0x00000004
FILE_DELETE_CHILD = 0x00000040
FILE_READ_ATTRIBUTES = 0x00000080
FILE_WRITE_DATA = 0x00000002
FILE_ALL_ACCESS = FILE_GENERIC_MAPPING.all

# MS-DTYP 2.4.7 SECURITY_INFORMATION
OWNER_SECURITY_INFORMATION = 0x1
GROUP_SECURITY_INFORMATION = 0x2
DACL_SECURITY_INFORMATION = 0x4
SACL_SECURITY_INFORMATION = 0x8

#: mode bit (per class, shifted to the "other" position) -> rights
_MODE_RIGHTS = (
    (0o4, FILE_GENERIC_MAPPING.read),
    (0o2, FILE_GENERIC_MAPPING.write | DELETE),
    (0o1, FILE_GENERIC_MAPPING.execute),
)


# ---- the store -------------------------------------------------------------------------


def pack_stored(sd: bytes) -> bytes:
    """The xattr value for the self-relative descriptor ``sd``."""
    if len(sd) > MAX_SD_BYTES:
        raise NtStatusError(st.STATUS_INVALID_SECURITY_DESCR, "security descriptor too large")
    return _HEADER.pack(_MAGIC, _VERSION, 0, 0) + sd


def unpack_stored(blob: bytes | None) -> SecurityDescriptor | None:
    """The stored descriptor, or None when ``blob`` is absent, foreign or corrupt."""
    if not blob or len(blob) < _HEADER.size + 20 or len(blob) > _HEADER.size + MAX_SD_BYTES:
        return None
    magic, version, _flags, _reserved = _HEADER.unpack_from(blob)
    if magic != _MAGIC or version != _VERSION:
        return None
    try:
        return decode_sd(blob[_HEADER.size :])
    except (SecurityError, ValueError):
        return None


def read_stored(target: int | str) -> SecurityDescriptor | None:
    """The stored descriptor of a descriptor or host path (symlinks not followed); None
    when there is none, it is corrupt or the file system has no user xattrs."""
    try:
        if isinstance(target, int):
            blob = os.getxattr(target, XATTR_NAME)
        else:
            blob = os.getxattr(target, XATTR_NAME, follow_symlinks=False)
    except OSError:
        return None
    return unpack_stored(blob)


def write_stored(target: int | str, sd: SecurityDescriptor) -> None:
    """Persist ``sd``; a file system without user xattrs gives STATUS_NOT_SUPPORTED."""
    value = pack_stored(encode_sd(sd))
    try:
        if isinstance(target, int):
            os.setxattr(target, XATTR_NAME, value)
        else:
            os.setxattr(target, XATTR_NAME, value, follow_symlinks=False)
    except OSError as e:
        if e.errno in (errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM):
            raise NtStatusError(st.STATUS_NOT_SUPPORTED, "no user xattrs here") from e
        if e.errno in (errno.ENOSPC, errno.E2BIG, errno.ERANGE):
            raise NtStatusError(st.STATUS_INSUFFICIENT_RESOURCES, "descriptor too large") from e
        raise NtStatusError(st.STATUS_ACCESS_DENIED, f"storing the descriptor: {e}") from e
    with contextlib.suppress(OSError):  # the next load reads the new descriptor
        if isinstance(target, int):
            descriptors.forget(os.fstat(target))
        else:
            descriptors.forget(os.stat(target, follow_symlinks=False))


# ---- the default descriptor --------------------------------------------------------------


def _mode_rights(bits: int) -> int:
    if bits & 0o7 == 0o7:
        return FILE_ALL_ACCESS
    out = 0
    for bit, rights in _MODE_RIGHTS:
        if bits & bit:
            out |= rights
    return out


@dataclass(frozen=True, slots=True)
class Actor:
    """Who a session is on the host: its token's user SID and the Unix uid its file access
    runs as; ``service_uid`` is the server's own uid."""

    user_sid: str | None
    uid: int
    service_uid: int
    #: Unix uid -> SID of the account mapped to it (ServerContext.sid_for_uid)
    sid_for_uid: Callable[[int], str | None] | None = None

    def owner_of(self, uid: int) -> str:
        """The owner SID of an object of ``uid`` without a stored descriptor: the session's
        user when it acts as ``uid``, else the account mapped to ``uid``, else the server."""
        if self.user_sid and uid == self.uid:
            return self.user_sid
        mapped = self.sid_for_uid(uid) if self.sid_for_uid is not None else None
        return mapped or BUILTIN_ADMINISTRATORS


def _service_may_all(st_: os.stat_result, actor: Actor) -> bool:
    """Sessions not mapped to a Unix user act as the service account: on its own objects,
    or everywhere when it is root, the host lets them do anything."""
    return st_.st_uid == actor.service_uid or actor.service_uid == 0


def synthesize(st_: os.stat_result, actor: Actor) -> SecurityDescriptor:
    """The descriptor of an object that has none stored (see the module docstring)."""
    mode = st_.st_mode
    is_dir = stat_mod.S_ISDIR(mode)
    owner = actor.owner_of(st_.st_uid)
    flags = (OBJECT_INHERIT | CONTAINER_INHERIT) if is_dir else 0
    # The Unix owner may do anything to its object (chmod, chown to itself, unlink): full
    # control; the read-only w bit stays the share backend's FILE_ATTRIBUTE_READONLY.
    user_rights = FILE_ALL_ACCESS
    aces = []
    for sid, rights in (
        (owner, user_rights),
        (AUTHENTICATED_USERS, user_rights if _service_may_all(st_, actor) else 0),
        (BUILTIN_USERS, _mode_rights(mode >> 3)),
        (EVERYONE, _mode_rights(mode)),
    ):
        if rights:
            aces.append(Ace(0x00, flags, rights, sid))
    return SecurityDescriptor(
        owner, BUILTIN_USERS, Acl(aces), None, SE_SELF_RELATIVE | SE_DACL_PRESENT
    )


@dataclass(slots=True)
class FileSecurity:
    """An object's descriptor and whether it is stored (False: synthesized)."""

    sd: SecurityDescriptor
    stored: bool


def load(host_path: str, st_: os.stat_result, actor: Actor, fd: int | None = None) -> FileSecurity:
    """The object's stored descriptor (cached for ``st_``'s inode and ctime), else its
    synthesized default."""
    sd = descriptors.get(st_)
    if DescriptorCache.is_miss(sd):
        sd = read_stored(fd) if fd is not None else None
        if sd is None:
            sd = read_stored(host_path)
        descriptors.put(st_, sd, time.time_ns())
    if sd is not None:
        return FileSecurity(sd, True)
    return FileSecurity(synthesize(st_, actor), False)


# ---- access ---------------------------------------------------------------------------


def maximal(sd: SecurityDescriptor, token: SecurityToken) -> int:
    """MAXIMUM_ALLOWED of ``sd`` for ``token`` (MS-DTYP 2.5.3.2)."""
    try:
        return access_check(sd, token, MAXIMUM_ALLOWED).granted & ~ACCESS_SYSTEM_SECURITY
    except SecurityError:  # a condition that cannot be evaluated grants nothing
        return 0


def open_access(
    sd: SecurityDescriptor, parent: SecurityDescriptor | None, token: SecurityToken
) -> int:
    """The rights an open of an existing object can get (MS-FSA 2.1.5.1.2.1): its own
    descriptor's maximum, DELETE when the parent grants FILE_DELETE_CHILD, and
    FILE_READ_ATTRIBUTES when the parent grants FILE_LIST_DIRECTORY."""
    granted = maximal(sd, token)
    if parent is not None and granted & (DELETE | FILE_READ_ATTRIBUTES) != (
        DELETE | FILE_READ_ATTRIBUTES
    ):
        pmax = maximal(parent, token)
        if pmax & FILE_DELETE_CHILD:
            granted |= DELETE
        if pmax & FILE_LIST_DIRECTORY:
            granted |= FILE_READ_ATTRIBUTES
    return granted


def create_access(parent: SecurityDescriptor, token: SecurityToken, *, is_dir: bool) -> bool:
    """May ``token`` add a file (FILE_ADD_FILE) or directory (FILE_ADD_SUBDIRECTORY) to the
    directory with descriptor ``parent`` (MS-FSA 2.1.5.1.1)?"""
    need = FILE_ADD_SUBDIRECTORY if is_dir else FILE_ADD_FILE
    return bool(maximal(parent, token) & need)


def wanted_rights(desired_access: int, create_disposition: int, existing_file: bool) -> int:
    """The rights the access check must grant: the mapped desired access, plus
    FILE_WRITE_DATA when FILE_SUPERSEDE / FILE_OVERWRITE(_IF) replace an existing object's
    data (as Windows and Samba check: superseding a file one may only read is refused)."""
    want = map_generic(desired_access & ~MAXIMUM_ALLOWED, FILE_GENERIC_MAPPING)
    want &= ~ACCESS_SYSTEM_SECURITY  # a privilege question, not the DACL's
    if existing_file and create_disposition in (0, 4, 5):
        want |= FILE_WRITE_DATA
    return want


# ---- new objects --------------------------------------------------------------------------


def parse_secd_context(data: bytes) -> SecurityDescriptor:
    """The SecD create context's descriptor (MS-SMB2 2.2.13.2.1); bounded, malformed
    -> STATUS_INVALID_SECURITY_DESCR."""
    if len(data) > MAX_SD_BYTES:
        raise NtStatusError(st.STATUS_INVALID_SECURITY_DESCR, "SecD too large")
    try:
        return decode_sd(data)
    except (SecurityError, ValueError):
        raise NtStatusError(st.STATUS_INVALID_SECURITY_DESCR, "bad SecD") from None


def _primary_group(user_sid: str | None) -> str:
    """The token's primary group: the domain's (or machine's) "Domain Users"/"None" (513)
    for an account SID, else BUILTIN\\Users."""
    if user_sid and user_sid.startswith("S-1-5-21-") and user_sid.count("-") == 7:
        return user_sid.rsplit("-", 1)[0] + "-513"
    return BUILTIN_USERS


def check_owner(owner: str | None, token: SecurityToken) -> None:
    """An owner may only be set to a SID of the caller's token (MS-DTYP 2.5.3.4; no
    SeRestorePrivilege in lanman tokens): else STATUS_INVALID_OWNER."""
    if owner is not None and owner not in token.sids:
        raise NtStatusError(st.STATUS_INVALID_OWNER, f"owner {owner} is not in the token")


def _with_flags(a: Ace, flags: int, mask: int | None = None) -> Ace:
    return Ace(
        a.type,
        flags,
        a.mask if mask is None else mask,
        a.sid,
        a.object_type,
        a.inherited_object_type,
        a.application_data,
        a.opaque,
    )


def _map_acl(acl: Acl | None) -> Acl | None:
    """Generic rights in effective ACEs mapped to file rights (MS-DTYP 2.5.3.4.2 style);
    inherit-only ACEs keep theirs, for the children."""
    if acl is None:
        return None
    out = [
        a
        if a.flags & INHERIT_ONLY or a.info.opaque
        else _with_flags(a, a.flags, map_generic(a.mask, FILE_GENERIC_MAPPING))
        for a in acl.aces
    ]
    return Acl(out, acl.revision)


def inherited_for_new(
    parent: SecurityDescriptor,
    token: SecurityToken,
    *,
    is_dir: bool,
    creator: SecurityDescriptor | None = None,
) -> SecurityDescriptor:
    """The descriptor of a new object (MS-DTYP 2.5.3.4 CreateSecurityObject): owner and
    group from the token (or the SecD context), DACL/SACL inherited from the parent after
    the creator's explicit ACEs.

    Automatic inheritance (MS-DTYP 2.5.3.4.1 AutoInheritFlags DACL_AUTO_INHERIT) is in
    effect only under a parent whose DACL is marked SE_DACL_AUTO_INHERITED, as NTFS passes
    the flag: otherwise the inherited copies are plain ACEs, the child is not marked, and a
    DACL the creator gives (a NULL one included) is taken as it is (2.5.3.4.2 ComputeACL)."""
    if creator is not None:
        check_owner(creator.owner, token)
    owner = token.user_sid or BUILTIN_ADMINISTRATORS
    auto = bool(parent.control & SE_DACL_AUTO_INHERITED)
    if (
        creator is not None
        and creator.control & SE_DACL_PRESENT
        and (not auto or creator.dacl is None)
    ):
        return SecurityDescriptor(
            creator.owner or owner,
            creator.group or _primary_group(token.user_sid),
            _map_acl(creator.dacl),
            None,
            SE_SELF_RELATIVE | SE_DACL_PRESENT | (creator.control & SE_DACL_PROTECTED),
        )
    sd = inherit_sd(
        parent,
        is_container=is_dir,
        owner=owner,
        group=_primary_group(token.user_sid),
        creator=creator,
    )
    sd.dacl = _map_acl(sd.dacl)
    if not auto and sd.dacl is not None:
        sd.dacl = Acl([_with_flags(a, a.flags & ~INHERITED) for a in sd.dacl.aces])
        sd.control &= ~SE_DACL_AUTO_INHERITED
    if sd.dacl is None and not sd.control & SE_DACL_PRESENT:
        # neither inherited nor given: the owner gets full control (a token default DACL)
        sd.dacl = Acl([Ace(0x00, 0, FILE_ALL_ACCESS, owner)])
        sd.control |= SE_DACL_PRESENT
    return sd


# ---- QUERY_INFO / SET_INFO ---------------------------------------------------------------


def required_for_query(info: int) -> int:
    """MS-FSA 2.1.5.13: READ_CONTROL for owner/group/DACL, ACCESS_SYSTEM_SECURITY for the
    SACL."""
    need = 0
    if info & (OWNER_SECURITY_INFORMATION | GROUP_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION):
        need |= READ_CONTROL
    if info & SACL_SECURITY_INFORMATION:
        need |= ACCESS_SYSTEM_SECURITY
    return need


def required_for_set(info: int) -> int:
    """MS-FSA 2.1.5.16: WRITE_OWNER for owner/group, WRITE_DAC for the DACL,
    ACCESS_SYSTEM_SECURITY for the SACL."""
    need = 0
    if info & (OWNER_SECURITY_INFORMATION | GROUP_SECURITY_INFORMATION):
        need |= WRITE_OWNER
    if info & DACL_SECURITY_INFORMATION:
        need |= WRITE_DAC
    if info & SACL_SECURITY_INFORMATION:
        need |= ACCESS_SYSTEM_SECURITY
    return need


def query_blob(sd: SecurityDescriptor, info: int) -> bytes:
    """The self-relative descriptor with only the parts ``info`` asks for (MS-SMB2
    3.3.5.20.3); the control keeps the flags of the parts returned."""
    control = SE_SELF_RELATIVE
    out = SecurityDescriptor(control=control)
    if info & OWNER_SECURITY_INFORMATION:
        out.owner = sd.owner
    if info & GROUP_SECURITY_INFORMATION:
        out.group = sd.group
    if info & DACL_SECURITY_INFORMATION:
        out.control |= sd.control & (
            SE_DACL_PRESENT | SE_DACL_AUTO_INHERITED | SE_DACL_PROTECTED | SE_DACL_AUTO_INHERIT_REQ
        )
        out.dacl = sd.dacl
    if info & SACL_SECURITY_INFORMATION:
        out.control |= sd.control & (
            SE_SACL_PRESENT | SE_SACL_AUTO_INHERITED | SE_SACL_PROTECTED | SE_SACL_AUTO_INHERIT_REQ
        )
        out.sacl = sd.sacl
    return encode_sd(out)


def apply_set_info(
    old: SecurityDescriptor, data: bytes, info: int, token: SecurityToken
) -> SecurityDescriptor:
    """The descriptor after SET_INFO SMB2_0_INFO_SECURITY (MS-SMB2 3.3.5.21.3, MS-FSA
    2.1.5.16): the parts ``info`` names replace the old ones; the DACL's generic rights are
    mapped; AUTO_INHERITED is kept only together with AUTO_INHERIT_REQ."""
    if len(data) > MAX_SD_BYTES:
        raise NtStatusError(st.STATUS_INVALID_SECURITY_DESCR, "descriptor too large")
    try:
        new = decode_sd(data)
    except (SecurityError, ValueError):
        raise NtStatusError(st.STATUS_INVALID_SECURITY_DESCR, "bad security descriptor") from None
    out = SecurityDescriptor(old.owner, old.group, old.dacl, old.sacl, old.control)
    if info & OWNER_SECURITY_INFORMATION:
        if new.owner is None:
            raise NtStatusError(st.STATUS_INVALID_OWNER, "no owner in the descriptor")
        check_owner(new.owner, token)
        out.owner = new.owner
    if info & GROUP_SECURITY_INFORMATION and new.group is not None:
        out.group = new.group
    for is_dacl in (True, False):
        if not info & (DACL_SECURITY_INFORMATION if is_dacl else SACL_SECURITY_INFORMATION):
            continue
        bits = (
            (SE_DACL_PRESENT, SE_DACL_AUTO_INHERITED, SE_DACL_PROTECTED, SE_DACL_AUTO_INHERIT_REQ)
            if is_dacl
            else (
                SE_SACL_PRESENT,
                SE_SACL_AUTO_INHERITED,
                SE_SACL_PROTECTED,
                SE_SACL_AUTO_INHERIT_REQ,
            )
        )
        present, auto, protected, req = bits
        control = out.control & ~(present | auto | protected | req)
        control |= new.control & (present | protected)
        if new.control & (auto | req) == auto | req:
            # Windows keeps AUTO_INHERITED only when the client also asks for automatic
            # inheritance (AUTO_INHERIT_REQ, which itself is never stored)
            control |= auto
        acl = _map_acl(new.dacl if is_dacl else new.sacl)
        if acl is not None or is_dacl:
            # no DACL in the new descriptor: a NULL DACL, as Windows stores it
            control |= present
        out.control = control
        if is_dacl:
            out.dacl = acl
        else:
            out.sacl = acl
    return out


def actor_for(session, sid_for_uid=None, service_uid: int | None = None) -> Actor:
    """The :class:`Actor` of a session (its token's user, its mapped Unix uid)."""
    svc = os.geteuid() if service_uid is None else service_uid
    unix = getattr(session, "unix_id", None)
    uid = getattr(unix, "uid", svc)
    token = getattr(session, "token", None)
    return Actor(getattr(token, "user_sid", None), uid, svc, sid_for_uid)


# ---- CREATE ---------------------------------------------------------------------------------

_FILE_DIRECTORY_FILE = 0x00000001
_OPENING_ONLY = (1, 4)  # FILE_OPEN, FILE_OVERWRITE: a missing object is not created
_CREATING_ONLY = 2  # FILE_CREATE: an existing object is a collision, before any access check


@dataclass(slots=True)
class CreateCheck:
    """The outcome of :func:`check_create`: ``cap`` bounds the open's granted access,
    ``maximal`` is the MxAc answer; for a new object, ``new_sd`` is written once created."""

    cap: int
    maximal: int
    new_sd: SecurityDescriptor | None = None

    def after_open(self, handle, action: int) -> None:
        """Persist the inherited descriptor of an object the open created (action 2)."""
        if self.new_sd is None or action != 2:
            return
        try:
            write_stored(handle.fd, self.new_sd)
        except NtStatusError:
            pass  # no xattrs on this file system: the object keeps its synthesized default


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path, follow_symlinks=False)
    except OSError:
        return None


def check_create(fs, request, session, sid_for_uid=None) -> CreateCheck | None:
    """MS-FSA 2.1.5.1 access checks of a CREATE against the descriptors of the object and
    its parent, for the session's token. None: nothing to check here (no token, or a path
    the open itself will refuse). Denied -> STATUS_ACCESS_DENIED."""
    token = getattr(session, "token", None)
    if token is None:
        return None
    if request.desired_access & ACCESS_SYSTEM_SECURITY and (
        "SeSecurityPrivilege" not in token.privileges
    ):
        # MS-FSA 2.1.5.1: the SACL is the auditors' (SeSecurityPrivilege), never the DACL's
        raise NtStatusError(st.STATUS_PRIVILEGE_NOT_HELD, "ACCESS_SYSTEM_SECURITY")
    try:
        host = fs.resolve(request.name)
    except NtStatusError:
        return None
    actor = actor_for(session, sid_for_uid)
    target = _stat(host)
    parent = None
    if host != fs.root:
        parent_path = os.path.dirname(host)
        pst = _stat(parent_path)
        if pst is not None:
            parent = load(parent_path, pst, actor).sd
    if target is None:
        if request.create_disposition in _OPENING_ONLY or parent is None:
            return None
        is_dir = bool(request.create_options & _FILE_DIRECTORY_FILE)
        if not create_access(parent, token, is_dir=is_dir):
            raise NtStatusError(st.STATUS_ACCESS_DENIED, "the parent does not allow adding")
        creator = None
        for c in request.contexts:
            if c.name == b"SecD":
                creator = parse_secd_context(bytes(c.data))
        new_sd = inherited_for_new(parent, token, is_dir=is_dir, creator=creator)
        return CreateCheck(
            FILE_ALL_ACCESS | ACCESS_SYSTEM_SECURITY, open_access(new_sd, parent, token), new_sd
        )
    if request.create_disposition == _CREATING_ONLY:
        return None  # MS-FSA 2.1.5.1.2: STATUS_OBJECT_NAME_COLLISION comes first (the open's)
    sd = load(host, target, actor).sd
    granted = open_access(sd, parent, token)
    want = wanted_rights(
        request.desired_access, request.create_disposition, stat_mod.S_ISREG(target.st_mode)
    )
    if want & ~granted:
        raise NtStatusError(st.STATUS_ACCESS_DENIED, "the file's security descriptor")
    return CreateCheck(granted | ACCESS_SYSTEM_SECURITY, granted)


def check_rename(fs, new_path: str, session, replace: bool, sid_for_uid=None) -> None:
    """MS-FSA 2.1.5.14.11: renaming into a directory adds an entry there (FILE_ADD_FILE;
    FILE_ADD_SUBDIRECTORY is not asked separately, as both are what Windows' default
    DACLs grant together), and replacing an existing target deletes it (DELETE, also via
    FILE_DELETE_CHILD of its directory). The rename itself reports bad or missing paths."""
    token = getattr(session, "token", None)
    if token is None:
        return
    try:
        host = fs.resolve(new_path)
    except NtStatusError:
        return
    if host == fs.root:
        return
    actor = actor_for(session, sid_for_uid)
    parent_path = os.path.dirname(host)
    pst = _stat(parent_path)
    if pst is None:
        return
    parent = load(parent_path, pst, actor).sd
    if not maximal(parent, token) & FILE_ADD_FILE:
        raise NtStatusError(st.STATUS_ACCESS_DENIED, "rename: the target directory is closed")
    target = _stat(host)
    if (
        target is not None
        and replace
        and not open_access(load(host, target, actor).sd, parent, token) & DELETE
    ):
        raise NtStatusError(st.STATUS_ACCESS_DENIED, "rename: the replaced file is protected")


def load_open(handle, session, sid_for_uid=None) -> FileSecurity:
    """The descriptor of an open's object (QUERY_INFO / SET_INFO)."""
    try:
        st_ = os.fstat(handle.fd)
    except OSError as e:
        raise NtStatusError(st.STATUS_FILE_CLOSED, str(e)) from e
    return load(handle.path, st_, actor_for(session, sid_for_uid), fd=handle.fd)


def store_open(handle, sd: SecurityDescriptor) -> None:
    """Persist ``sd`` on an open's object (by descriptor; by path for O_PATH opens)."""
    try:
        write_stored(handle.fd, sd)
    except NtStatusError:
        write_stored(handle.path, sd)
