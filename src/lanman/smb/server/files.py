"""File, directory and named-pipe requests on the server (MS-SMB2 3.3.5.9-3.3.5.21)."""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from lanman.concurrency import blocking_section
from lanman.errors import ntstatus as st
from lanman.errors.ntstatus import NtStatusError
from lanman.smb.filestat import FILE_ATTRIBUTE_NORMAL, FileStat
from lanman.smb.wire import fileinfo as fi
from lanman.smb.wire.constants import (
    DELETE,
    FILE_ALL_ACCESS,
    FILE_APPEND_DATA,
    FILE_DELETE_ON_CLOSE,
    FILE_EXECUTE,
    FILE_READ_ATTRIBUTES,
    FILE_READ_DATA,
    FILE_READ_EA,
    FILE_WRITE_ATTRIBUTES,
    FILE_WRITE_DATA,
    FILE_WRITE_EA,
    MAXIMUM_ALLOWED,
    SMB2_CLOSE_FLAG_POSTQUERY_ATTRIB,
    SMB2_FILEID_NONE,
    SMB2_LOCKFLAG_EXCLUSIVE_LOCK,
    SMB2_LOCKFLAG_FAIL_IMMEDIATELY,
    SMB2_LOCKFLAG_SHARED_LOCK,
    SMB2_LOCKFLAG_UNLOCK,
    Command,
    Dialect,
    HeaderFlags,
    InfoType,
    QueryDirectoryFlags,
)
from lanman.smb.wire.create import (
    CloseRequest,
    CloseResponse,
    CreateContext,
    CreateRequest,
    CreateResponse,
)
from lanman.smb.wire.io import (
    LockRequest,
    ReadRequest,
    WriteRequest,
    pack_read_response_fixed,
    pack_write_response,
    unpack_flush_request,
)
from lanman.smb.wire.query import (
    ChangeNotifyRequest,
    IoctlRequest,
    QueryDirectoryRequest,
    QueryInfoRequest,
    SetInfoRequest,
    pack_error_response,
    pack_ioctl_response,
    pack_output_response,
    pack_set_info_response,
)
from lanman.smb.wire.session import empty_body

from . import dirleases, eas, filesd, lock_sequence, notify, sharemodes
from .caching import create_caching, directory_leasing
from .durable_handles import DurableHandlers, DurableIntent
from .fs import map_generic_access
from .lock_sequence import LockSequenceArray
from .locks import ByteRangeLocks, Waiter
from .state import DirectoryScan, Open
from .streams import StreamOpen

if TYPE_CHECKING:
    from .request import Reply, Request

_READ_BITS = FILE_READ_DATA | FILE_EXECUTE
#: largest CREATE kept to run again after oplock/lease breaks (bounds what waiting costs)
_MAX_WAITING_CREATE = 64 * 1024
_SECURITY_DELEGATION = 3  # the highest ImpersonationLevel (MS-SMB2 2.2.13)
_REPLACED_OBJECT = (0, 2, 3)  # CreateAction superseded, created, overwritten: new EAs apply
_WRITE_BITS = FILE_WRITE_DATA | FILE_APPEND_DATA


def map_generic(access: int, maximal: int) -> int:
    """MS-SMB2 3.3.5.9 / MS-DTYP 2.4.3: expand GENERIC_* and grant MAXIMUM_ALLOWED as the
    tree's maximal access."""
    granted = map_generic_access(access) & ~MAXIMUM_ALLOWED
    if access & MAXIMUM_ALLOWED:
        granted |= maximal
    return granted


#: what a pending operation answers when its open is closed under it (MS-SMB2 3.3.5.10,
#: 3.3.5.14: a waiting lock ends with STATUS_RANGE_NOT_LOCKED, as on Windows)
_CLOSED_WHILE_PENDING = {
    "notify": st.STATUS_NOTIFY_CLEANUP,
    "lock": st.STATUS_RANGE_NOT_LOCKED,
}

_LOCK_KINDS = {  # flags -> (exclusive, blocking); anything else is invalid (3.3.5.14.2)
    SMB2_LOCKFLAG_SHARED_LOCK: (False, True),
    SMB2_LOCKFLAG_EXCLUSIVE_LOCK: (True, True),
    SMB2_LOCKFLAG_SHARED_LOCK | SMB2_LOCKFLAG_FAIL_IMMEDIATELY: (False, False),
    SMB2_LOCKFLAG_EXCLUSIVE_LOCK | SMB2_LOCKFLAG_FAIL_IMMEDIATELY: (True, False),
}


def _lock_kind(flags: int, index: int) -> tuple[bool, bool]:
    """(exclusive, blocking) of a lock element; only the first of several may block."""
    kind = _LOCK_KINDS.get(flags)
    if kind is None or (kind[1] and index > 0):
        raise NtStatusError(st.STATUS_INVALID_PARAMETER, "bad lock flags")
    return kind


class FileHandlers(DurableHandlers):
    """Mixin of :class:`ServerConnection` for the commands that act on opens."""

    # ---- open table -----------------------------------------------------------------

    def _lookup_open(self, req: Request, file_id: bytes) -> Open:
        """MS-SMB2 3.3.5.2.7.2 / 3.3.5.x: the open of a FileId (the compound's for
        0xFF.. in a related request); both halves must match (Open.DurableFileId is
        FileId.Persistent), else STATUS_FILE_CLOSED."""
        chained = file_id == SMB2_FILEID_NONE and req.header.is_related
        if chained:
            vid = self.compound_open_id
        else:
            # 3.3.5.2.7.2: related requests after this one use the FileId it names
            vid = self.compound_open_id = int.from_bytes(file_id[8:16], "little")
        open_ = self._find_open(vid, req.session) if vid is not None else None
        if (
            open_ is None
            or (not chained and bytes(file_id[:8]) != open_.file_id[:8])
            or open_.session_id != req.session.session_id
            or open_.tree_id != req.header.tree_id
        ):
            raise NtStatusError(st.STATUS_FILE_CLOSED)
        self._check_channel_sequence(req, open_)
        open_.replay_eligible = False  # used: a replayed CREATE opens anew (3.3.5.9.10)
        return open_

    def _check_channel_sequence(self, req: Request, open_: Open) -> None:
        """MS-SMB2 3.3.5.2.10: a request with a stale ChannelSequence (older than the
        open's by the 16-bit difference) fails WRITE, SET_INFO and IOCTL with
        STATUS_FILE_NOT_AVAILABLE; a newer one becomes Open.ChannelSequence. Requests
        complete before the next is read, so no outstanding count is ever left over."""
        if self.dialect is None or self.dialect < Dialect.SMB_3_0:
            return
        csn = req.header.status & 0xFFFF
        diff = (csn - open_.channel_sequence) & 0xFFFF
        if diff == 0:
            return
        if diff <= 0x7FFF:
            open_.channel_sequence = csn
        elif req.header.command in (Command.WRITE, Command.SET_INFO, Command.IOCTL):
            raise NtStatusError(st.STATUS_FILE_NOT_AVAILABLE, "stale ChannelSequence")

    def _close_open(self, open_: Open) -> None:
        if open_.durable is not None:
            self.ctx.durable.forget(open_)
        if self.opens.pop(open_.volatile_id, None) is open_ and open_.kind == "pipe":
            self.pipe_opens -= 1
        for p in [p for p in self.pending.values() if p.open_id == open_.volatile_id]:
            self.complete_async(p, _CLOSED_WHILE_PENDING.get(p.kind, st.STATUS_PIPE_BROKEN))
        if open_.kind == "file":
            self._drop_locks(open_)
        sharemodes.leave(self, open_)
        try:
            open_.handle.close()
        except (OSError, NtStatusError):
            pass
        notify.on_close(self, open_)
        dirleases.on_close(self, open_)
        if open_.oplock_key is not None:
            # last: a CREATE waiting for this holder runs again now, and must find the
            # file's share modes and delete-on-close as this close left them
            self.ctx.oplocks.release(open_.oplock_key, self, open_.volatile_id)

    def locks_for(self, open_: Open) -> ByteRangeLocks:
        """The byte-range locks of the open's file, shared by every connection."""
        key = (
            open_.oplock_key
            if open_.oplock_key is not None
            else ("open", id(self), open_.volatile_id)
        )
        tables = self.ctx.lock_tables
        locks = tables.get(key)
        if locks is None:
            locks = tables[key] = ByteRangeLocks()
        return locks

    def _drop_locks(self, open_: Open) -> None:
        key = open_.oplock_key
        locks = self.ctx.lock_tables.get(key) if key is not None else None
        if locks is not None:
            locks.release_owner((id(self), open_.volatile_id))
            if locks.idle:
                del self.ctx.lock_tables[key]

    # ---- CREATE ---------------------------------------------------------------------

    def _create(self, req: Request) -> Reply | None:
        r = CreateRequest.unpack(req.pdu)
        tree = self._tree(req)
        if "/" in r.name and not tree.is_ipc:
            # a CREATE's name takes "/" as a separator, as Windows' and Samba's servers do
            # (smbj and smbtorture smb2.timestamps close_no_attrib send "dir/file"); a
            # rename target does not (fs_paths.py)
            r.name = r.name.replace("/", "\\")
        durable = self._durable_create(req, r, tree)
        if durable is not None and not isinstance(durable, DurableIntent):
            # a durable reconnect or a create replay, answered: the rest of such a request
            # is not looked at (MS-SMB2 3.3.5.9.7, smbtorture durable-open reopen2)
            return durable
        # MS-SMB2 3.3.5.9: one of the four impersonation levels; a name never starts with
        # a separator (unless the request is a DFS operation)
        if r.impersonation_level > _SECURITY_DELEGATION:
            raise NtStatusError(st.STATUS_BAD_IMPERSONATION_LEVEL)
        if r.name.startswith("\\") and not req.header.flags & HeaderFlags.DFS_OPERATIONS:
            raise NtStatusError(st.STATUS_INVALID_PARAMETER, "name starts with a separator")
        # the ExtA context (MS-SMB2 2.2.13.2.1) is checked before anything is opened
        ext_eas = eas.create_context_eas(r.contexts)
        if len(self.opens) >= self.settings.max_opens_per_connection:
            raise NtStatusError(st.STATUS_INSUFFICIENT_RESOURCES, "too many open handles")
        if r.create_options & FILE_DELETE_ON_CLOSE and not (
            map_generic(r.desired_access, tree.maximal_access) & DELETE
        ):
            raise NtStatusError(st.STATUS_ACCESS_DENIED, "delete-on-close without DELETE")
        caching = None
        if not tree.is_ipc:
            # a detached durable open of this path goes first (it cannot answer a break)
            self._purge_disconnected(path_key=(tree.fs.root, r.name.strip("\\").lower()))
            # Windows' order: the breaks the open's admission allows (the CREATE may wait),
            # then the sharing check (caching.py)
            caching = create_caching(self, r, tree)
            # The CREATE goes async until its breaks are over; inside a compound the
            # requests after it wait with it (connection.CompoundRest). Too large to keep,
            # it proceeds with no caching while the breaks are in flight.
            if (
                caching.must_wait(self, req.async_id)
                and len(req.pdu) <= _MAX_WAITING_CREATE
                and (self.compound_last or self.compound_tail <= _MAX_WAITING_CREATE)
            ):
                reply = self._wait_for_breaks(req, caching.key)
                aid = req.async_id if reply is None else reply.async_id
                self._note_pending_create(durable, req, aid, caching.key)
                return reply
        vid = self._next_volatile_id
        self._next_volatile_id += 1
        sec = None
        if tree.is_ipc:
            open_ = self._open_pipe(req, r, vid, tree)
            stat = None
            action = 1
        else:
            # MS-FSA 2.1.5.1: the file's own security descriptor (filesd.py)
            sec = filesd.check_create(tree.fs, r, req.session, self.ctx.sid_for_uid)
            handle, action = sharemodes.open_on_share(
                self, tree, r, vid, sec.cap if sec is not None else None
            )
            open_ = Open(
                vid,
                req.session.session_id,
                tree.tree_id,
                "dir" if handle.is_directory else "file",
                handle.granted_access,
                handle,
                smb_path=r.name.strip("\\"),
                file_key=handle.file_key,
            )
            try:
                if sec is not None:
                    sec.after_open(handle, action)
                if ext_eas is not None and action in _REPLACED_OBJECT:
                    eas.store_created(handle, ext_eas)
                stat = handle.stat()
            except BaseException:
                self._close_open(open_)
                raise
        self.opens[vid] = open_
        if open_.kind == "pipe":
            self.pipe_opens += 1
        self.compound_open_id = vid
        notify.on_create(self, open_, action)
        open_.channel_sequence = req.header.status & 0xFFFF  # 3.3.5.2.10 starts here
        oplock = 0
        lease_ctx = None
        if open_.kind == "file":
            # a named stream has its own oplocks and byte-range locks (MS-FSA 2.1.1.5)
            open_.oplock_key = (tree.fs.root, stat.file_id, *open_.handle.stream_key)
            self._purge_disconnected(file_key=open_.oplock_key)
            oplock, lease_ctx = caching.grant(self, open_)
        elif open_.kind == "dir":
            # the key of the directory's leases (dirleases.py): a rename or delete through
            # any open of it breaks their handle caching, as for a file
            open_.oplock_key = (tree.fs.root, stat.file_id)
            if caching.lease is not None and directory_leasing(self):
                oplock, lease_ctx = caching.grant(self, open_)
        if caching is not None:
            dirleases.on_create(self, open_, action, caching.lease)
        maximal = tree.maximal_access if sec is None else sec.maximal & tree.maximal_access
        contexts = self._create_contexts(r.contexts, open_, stat, tree, maximal)
        if lease_ctx is not None:
            contexts.append(lease_ctx)
        contexts += self._durable_grant(durable, open_, oplock, req, tree, action)
        return self.ok(req, [self._create_response(oplock, action, stat, open_, contexts)])

    @staticmethod
    def _create_response(
        oplock: int, action: int, stat: FileStat | None, open_: Open, contexts: list
    ) -> bytes:
        """The CREATE response body (MS-SMB2 2.2.14); a pipe has no file attributes."""
        if stat is None:
            body = CreateResponse(
                0, action, 0, 0, 0, 0, 4096, 0, FILE_ATTRIBUTE_NORMAL, open_.file_id, contexts
            )
        else:
            body = CreateResponse(
                oplock,
                action,
                stat.creation_time,
                stat.last_access_time,
                stat.last_write_time,
                stat.change_time,
                stat.allocation_size,
                stat.end_of_file,
                stat.file_attributes,
                open_.file_id,
                contexts,
            )
        return body.pack()

    def _wait_for_breaks(self, req: Request, key: tuple) -> Reply | None:
        """MS-SMB2 3.3.5.9 / 3.3.4.2: the CREATE goes async until the breaks it caused are
        acknowledged, the holders close or the break timer fires (resume_create)."""
        if req.async_id is not None:  # run again, and still blocked: keep waiting
            self.ctx.oplocks.wait(key, self, req.async_id)
            return None
        reply = self.new_async(req, "create", 0, splits_compound=True)
        self.pending[reply.async_id].pdu = bytes(req.pdu)
        self.ctx.oplocks.wait(key, self, reply.async_id)
        return reply

    def _create_contexts(
        self,
        contexts: list[CreateContext],
        open_: Open,
        stat: FileStat | None,
        tree,
        maximal: int | None = None,
    ) -> list[CreateContext]:
        """Answer the create contexts lanman understands (MS-SMB2 3.3.5.9.5, 3.3.5.9.9);
        others (durable handles, leases, app instance ids) are not granted."""
        out = []
        for c in contexts:
            if c.name == b"MxAc":
                mxac = tree.maximal_access if maximal is None else maximal
                out.append(CreateContext(b"MxAc", struct.pack("<II", 0, mxac)))
            elif c.name == b"QFid" and stat is not None:
                out.append(
                    CreateContext(
                        b"QFid", struct.pack("<QQ16s", stat.file_id & 0xFFFFFFFFFFFFFFFF, 0, b"")
                    )
                )
        return out

    def _open_pipe(self, req: Request, r: CreateRequest, vid: int, tree) -> Open:
        from lanman.auth.ntlm import NtlmAcceptor
        from lanman.msg.server import TSTS_PIPES, PipeAccess, binding_for, pipe_access
        from lanman.rpc.endpoint import CallContext, PipeProviders, normalize_pipe_name, open_pipe
        from lanman.rpc.interfaces.srvsvc import ShareInfo

        s = req.session
        st_ = self.settings

        def shares() -> list:
            # shi1005_flags SHI1005_FLAGS_ENCRYPT_DATA (MS-SRVS 2.2.4.29) for EncryptData.
            out = [
                ShareInfo(
                    sh.name,
                    0,
                    sh.remark,
                    flags=0x8000 if getattr(sh, "encrypt_data", False) else 0,
                )
                for sh in self.ctx.list_shares()
            ]
            out.append(ShareInfo("IPC$", 0x80000003, "Remote IPC"))
            return out

        def rpc_acceptor() -> NtlmAcceptor:  # DCE/RPC NTLMSSP binds (MS-RPCE 3.3.1.5.2)
            return NtlmAcceptor(
                lookup_nt_hash=self.ctx.lookup_nt_hash,
                hooks=self.ctx.ntlm_hooks,
                server_name=st_.server_name,
                domain_name=st_.domain_name,
                dns_computer_name=st_.server_name.lower(),
                dns_domain_name=st_.dns_domain_name or st_.domain_name.lower(),
                now_filetime=self.now,
                guest_allowed=False,
                anonymous_allowed=False,
            )

        ctx = CallContext(
            user=s.user,
            is_anonymous=s.is_anonymous,
            is_guest=s.is_guest,
            client_address=self.client_address,
            server_name=st_.server_name,
            domain=s.domain,
        )
        providers = PipeProviders(shares=shares, auth=rpc_acceptor, emit=self.ctx.emit_event)
        name = normalize_pipe_name(r.name)
        if s.is_anonymous:
            self._anonymous_pipe_check(name, ctx)
        if name in TSTS_PIPES:  # MS-TSTS: AllowRemoteRPC and an authenticated caller
            binding = binding_for(self.ctx)
            access = pipe_access(
                bool(binding and binding.allow_remote_rpc()),
                is_anonymous=s.is_anonymous,
                is_guest=s.is_guest,
            )
            if access is not PipeAccess.ALLOWED:
                self.ctx.emit_event(
                    "MSG_REMOTE_RPC_REFUSED",
                    pipe=TSTS_PIPES[name],
                    client=self.client_address,
                    user=s.user or "-",
                    reason=access.value,
                )
                raise NtStatusError(
                    st.STATUS_OBJECT_NAME_NOT_FOUND
                    if access is PipeAccess.NOT_FOUND
                    else st.STATUS_ACCESS_DENIED,
                    access.value,
                )
            providers.msg = binding.host
        pipe = open_pipe(r.name.strip("\\"), ctx, providers)
        if pipe is None:
            raise NtStatusError(st.STATUS_OBJECT_NAME_NOT_FOUND, f"no pipe {r.name!r}")
        return Open(
            vid,
            s.session_id,
            tree.tree_id,
            "pipe",
            FILE_ALL_ACCESS,
            pipe,
            smb_path=r.name.strip("\\"),
        )

    def _anonymous_pipe_check(self, name: str, ctx) -> None:
        """RestrictNullSessAccess / NullSessionPipes, and RestrictAnonymous for srvsvc's
        share enumeration (lanman.policy.anonymous)."""
        from lanman.policy.anonymous import anonymous_pipe_allowed, anonymous_share_enum_allowed

        policy = getattr(self.settings, "anonymous", None)
        ctx.restrict_anonymous = not anonymous_share_enum_allowed(policy)
        if anonymous_pipe_allowed(policy, name):
            return
        self.ctx.emit_event(
            "ANONYMOUS_ACCESS_DENIED",
            client=self.client_address,
            kind="named pipe",
            target=name,
            reason="RestrictNullSessAccess is on and the pipe is not in NullSessionPipes",
        )
        raise NtStatusError(st.STATUS_ACCESS_DENIED, f"anonymous open of pipe {name!r}")

    # ---- CLOSE / FLUSH ----------------------------------------------------------------

    def _close(self, req: Request) -> Reply:
        r = CloseRequest.unpack(req.pdu)
        open_ = self._lookup_open(req, r.file_id)
        resp = CloseResponse()
        if r.flags & SMB2_CLOSE_FLAG_POSTQUERY_ATTRIB and open_.kind != "pipe":
            try:
                open_.handle.apply_close_times()  # the times CLOSE sets are the ones it reports
                s = open_.handle.stat()
                resp = CloseResponse(
                    SMB2_CLOSE_FLAG_POSTQUERY_ATTRIB,
                    s.creation_time,
                    s.last_access_time,
                    s.last_write_time,
                    s.change_time,
                    s.allocation_size,
                    s.end_of_file,
                    s.file_attributes,
                )
            except (OSError, NtStatusError):
                pass
        self._close_open(open_)
        return self.ok(req, [resp.pack()])

    def _flush(self, req: Request) -> Reply:
        open_ = self._lookup_open(req, unpack_flush_request(req.pdu))
        if open_.kind == "file":
            if not open_.granted_access & (FILE_WRITE_DATA | FILE_APPEND_DATA):
                raise NtStatusError(st.STATUS_ACCESS_DENIED)
            open_.handle.flush()
        return self.ok(req, [empty_body(4)])

    # ---- READ / WRITE -------------------------------------------------------------------

    def _payload_size(self, req: Request) -> int:
        """Bytes the request moves, for the credit charge check (3.3.5.2.5)."""
        cmd = req.header.command
        pdu = req.pdu
        try:
            if cmd == Command.READ:
                return struct.unpack_from("<I", pdu, 64 + 4)[0]
            if cmd == Command.WRITE:
                return struct.unpack_from("<I", pdu, 64 + 4)[0]
            if cmd == Command.IOCTL:
                (inc,) = struct.unpack_from("<I", pdu, 64 + 28)
                (maxout,) = struct.unpack_from("<I", pdu, 64 + 44)
                return max(inc, maxout)
            if cmd == Command.QUERY_DIRECTORY:
                return struct.unpack_from("<I", pdu, 64 + 28)[0]
            if cmd == Command.CHANGE_NOTIFY:
                return struct.unpack_from("<I", pdu, 64 + 4)[0]
            if cmd == Command.QUERY_INFO:
                return struct.unpack_from("<I", pdu, 64 + 4)[0]
            if cmd == Command.SET_INFO:
                return struct.unpack_from("<I", pdu, 64 + 4)[0]
        except struct.error:
            raise NtStatusError(st.STATUS_INVALID_PARAMETER) from None
        return 0

    def _read(self, req: Request) -> Reply:
        r = ReadRequest.unpack(req.pdu)
        open_ = self._lookup_open(req, r.file_id)
        if r.length > self.max_read_size:
            raise NtStatusError(st.STATUS_INVALID_PARAMETER, "Length above MaxReadSize")
        if open_.kind == "pipe":
            return self._read_pipe(req, open_, r.length)
        if open_.kind == "dir":
            raise NtStatusError(st.STATUS_INVALID_DEVICE_REQUEST)
        if not open_.granted_access & _READ_BITS:
            raise NtStatusError(st.STATUS_ACCESS_DENIED)
        if r.offset > 0x7FFFFFFFFFFFFFFF:
            raise NtStatusError(st.STATUS_INVALID_PARAMETER)
        locks = self.locks_for(open_)
        if locks and locks.conflicts(
            (id(self), open_.volatile_id), r.offset, r.length, write=False
        ):
            raise NtStatusError(st.STATUS_FILE_LOCK_CONFLICT)
        buf = bytearray(r.length)
        n = open_.handle.read_into(r.offset, memoryview(buf)) if r.length else 0
        if (n == 0 and r.length) or n < r.minimum_count:
            raise NtStatusError(st.STATUS_END_OF_FILE)
        open_.position = r.offset + n
        return self.ok(req, [pack_read_response_fixed(n), memoryview(buf)[:n]])

    def _read_pipe(self, req: Request, open_: Open, length: int) -> Reply:
        pipe = open_.handle
        if pipe.pending_output() == 0:
            # A named-pipe read waits for data (async, 3.3.4.2); a later WRITE completes it.
            return self.new_async(req, "pipe_read", open_.volatile_id, length)
        data = pipe.read(length)
        status = st.STATUS_BUFFER_OVERFLOW if pipe.message_remaining() else st.STATUS_SUCCESS
        return self.ok(req, [pack_read_response_fixed(len(data)), data], status=status)

    def _write(self, req: Request) -> Reply:
        r = WriteRequest.unpack(req.pdu)
        open_ = self._lookup_open(req, r.file_id)
        if len(r.data) > self.max_write_size:
            raise NtStatusError(st.STATUS_INVALID_PARAMETER, "Length above MaxWriteSize")
        if open_.kind == "pipe":
            from lanman.rpc.endpoint import RpcProtocolError

            try:
                open_.handle.write(bytes(r.data))
            except RpcProtocolError:
                raise NtStatusError(st.STATUS_INVALID_PARAMETER, "bad RPC PDU") from None
            self._complete_pipe_reads(open_)
            return self.ok(req, [pack_write_response(len(r.data))])
        if open_.kind == "dir":
            raise NtStatusError(st.STATUS_INVALID_DEVICE_REQUEST)
        if not open_.granted_access & _WRITE_BITS:
            raise NtStatusError(st.STATUS_ACCESS_DENIED)
        if r.offset > 0x7FFFFFFFFFFFFFFF and r.offset != 0xFFFFFFFFFFFFFFFF:
            raise NtStatusError(st.STATUS_INVALID_PARAMETER)
        locks = self.locks_for(open_)
        if locks and locks.conflicts(
            (id(self), open_.volatile_id), r.offset, len(r.data), write=True
        ):
            raise NtStatusError(st.STATUS_FILE_LOCK_CONFLICT)
        n = open_.handle.write(r.offset, r.data)
        notify.on_write(self, open_)
        dirleases.on_write(self, open_)
        if open_.oplock_key is not None:
            self.ctx.oplocks.on_write(open_.oplock_key, self, open_.volatile_id, self.now)
        return self.ok(req, [pack_write_response(n)])

    def _complete_pipe_reads(self, open_: Open) -> None:
        for p in [
            p
            for p in self.pending.values()
            if p.open_id == open_.volatile_id and p.kind == "pipe_read"
        ]:
            pipe = open_.handle
            if not pipe.pending_output():
                break
            data = pipe.read(p.max_length)
            status = st.STATUS_BUFFER_OVERFLOW if pipe.message_remaining() else st.STATUS_SUCCESS
            self.complete_async(p, status, [pack_read_response_fixed(len(data)), data])

    # ---- LOCK ---------------------------------------------------------------------------

    def _lock(self, req: Request) -> Reply:
        """MS-SMB2 3.3.5.14: the elements are processed in order. An unlock request
        (first element UNLOCK) stops at the first failure, keeping what it already
        unlocked; a lock request is all or nothing. A single blocking lock (no
        FAIL_IMMEDIATELY) that conflicts goes async and is granted when room is made,
        or ends with STATUS_CANCELLED (CANCEL) / STATUS_RANGE_NOT_LOCKED (its open closed)."""
        r = LockRequest.unpack(req.pdu)
        open_ = self._lookup_open(req, r.file_id)
        if open_.kind != "file":
            raise NtStatusError(st.STATUS_INVALID_PARAMETER)
        sequences = self._lock_sequences(open_)
        if sequences is not None and sequences.begin(r.lock_sequence):
            return self.ok(req, [empty_body(4)])  # a replay of a LOCK that succeeded
        reply = self._lock_ranges(req, r, open_)
        if sequences is not None and reply.status == st.STATUS_SUCCESS:
            sequences.succeeded(r.lock_sequence)
        return reply

    def _lock_sequences(self, open_: Open) -> LockSequenceArray | None:
        """Open.LockSequenceArray when this open's LOCKs are replay-checked."""
        if not lock_sequence.applies(
            dialect_2_0_2=self.dialect == Dialect.SMB_2_0_2,
            durable=open_.durable is not None,
            multichannel=self.multichannel,
        ):
            return None
        if open_.lock_sequences is None:
            open_.lock_sequences = LockSequenceArray()
        return open_.lock_sequences

    def _lock_ranges(self, req: Request, r: LockRequest, open_: Open) -> Reply:
        locks = self.locks_for(open_)
        owner = (id(self), open_.volatile_id)
        if r.locks[0].flags & SMB2_LOCKFLAG_UNLOCK:
            for el in r.locks:  # 3.3.5.14.1
                if el.flags != SMB2_LOCKFLAG_UNLOCK:
                    raise NtStatusError(st.STATUS_INVALID_PARAMETER, "bad unlock flags")
                locks.unlock(owner, el.offset, el.length)
            return self.ok(req, [empty_body(4)])
        done = []
        try:
            for i, el in enumerate(r.locks):  # 3.3.5.14.2
                exclusive, blocking = _lock_kind(el.flags, i)
                if el.length and el.offset + el.length - 1 > 0xFFFFFFFFFFFFFFFF:
                    raise NtStatusError(st.STATUS_INVALID_LOCK_RANGE)
                if (
                    blocking
                    and len(r.locks) == 1
                    and locks.would_conflict(owner, el.offset, el.length, exclusive=exclusive)
                ):
                    return self._lock_wait(req, open_, locks, owner, el, exclusive)
                locks.lock(owner, el.offset, el.length, exclusive=exclusive)
                done.append(el)
        except NtStatusError:
            for el in reversed(done):  # all or nothing
                locks.unlock(owner, el.offset, el.length)
            raise
        if done and open_.oplock_key is not None:
            self.ctx.oplocks.on_write(open_.oplock_key, self, open_.volatile_id, self.now)
        return self.ok(req, [empty_body(4)])

    def _lock_wait(self, req: Request, open_: Open, locks, owner, el, exclusive: bool) -> Reply:
        """Answer STATUS_PENDING and queue the request on the file's lock table."""
        interim = self.new_async(req, "lock", open_.volatile_id)
        pending = self.pending[interim.async_id]

        def granted() -> None:
            self.complete_async(pending, st.STATUS_SUCCESS, [empty_body(4)])

        waiter = Waiter(owner, el.offset, el.length, exclusive, granted)
        try:
            locks.wait(waiter)
        except NtStatusError:
            self.pending.pop(interim.async_id, None)
            raise
        pending.on_abandon = lambda: locks.cancel_wait(waiter)
        return interim

    # ---- QUERY_DIRECTORY ---------------------------------------------------------------

    def _query_directory(self, req: Request) -> Reply:
        r = QueryDirectoryRequest.unpack(req.pdu)
        open_ = self._lookup_open(req, r.file_id)
        if open_.kind != "dir":
            raise NtStatusError(st.STATUS_INVALID_PARAMETER, "not a directory")
        if r.file_information_class not in fi.QUERY_DIRECTORY_CLASSES:
            raise NtStatusError(st.STATUS_INVALID_INFO_CLASS)
        if r.output_buffer_length > self.max_transact_size:
            raise NtStatusError(st.STATUS_INVALID_PARAMETER)
        scan = open_.scan
        restart = r.flags & (QueryDirectoryFlags.RESTART_SCANS | QueryDirectoryFlags.REOPEN)
        first = scan is None or restart or not scan.started
        if first:
            pattern = r.pattern or "*"
            # The scan reads only this open's directory: other connections go on meanwhile.
            with blocking_section():
                entries = open_.handle.list_directory(pattern)
            scan = open_.scan = DirectoryScan(entries, 0, True)
        if scan.index >= len(scan.entries):
            raise NtStatusError(
                st.STATUS_NO_SUCH_FILE if first and not scan.entries else st.STATUS_NO_MORE_FILES
            )
        if not first:
            # As many entries as could fit in this reply are checked again: names removed
            # since the scan began are dropped (smbtorture smb2.dir.fixed).
            header = fi.DIRECTORY_ENTRY_HEADER_SIZE[r.file_information_class]
            need = r.output_buffer_length // (header + 2) + 1
            pos = scan.index
            while need > 0 and pos < len(scan.entries):
                kept = open_.handle.still_present(scan.entries[pos : pos + need])
                scan.entries[pos : pos + need] = kept
                pos += len(kept)
                need -= len(kept)
            if scan.index >= len(scan.entries):
                raise NtStatusError(st.STATUS_NO_MORE_FILES)
        todo = scan.entries[scan.index :]
        if r.flags & QueryDirectoryFlags.RETURN_SINGLE_ENTRY:
            todo = todo[:1]
        data, count = fi.encode_directory_entries(
            r.file_information_class, todo, r.output_buffer_length
        )
        if count == 0:
            raise NtStatusError(
                fi.directory_no_fit_status(r.file_information_class, r.output_buffer_length)
            )
        scan.index += count
        return self.ok(req, [pack_output_response(data)])

    # ---- CHANGE_NOTIFY ------------------------------------------------------------------

    def _change_notify(self, req: Request) -> Reply:
        """MS-SMB2 3.3.5.19 (notify.py)."""
        r = ChangeNotifyRequest.unpack(req.pdu)
        return notify.change_notify(self, req, r, self._lookup_open(req, r.file_id))

    # ---- QUERY_INFO / SET_INFO ------------------------------------------------------

    def _pipe_stat(self, open_: Open) -> FileStat:
        return FileStat(
            open_.smb_path, 0, 0, 0, 0, 4096, 0, FILE_ATTRIBUTE_NORMAL, open_.volatile_id
        )

    def _query_info(self, req: Request) -> Reply:
        r = QueryInfoRequest.unpack(req.pdu)
        open_ = self._lookup_open(req, r.file_id)
        if r.output_buffer_length > self.max_transact_size:
            raise NtStatusError(st.STATUS_INVALID_PARAMETER)
        tree = self._tree(req)
        stat = self._pipe_stat(open_) if open_.kind == "pipe" else open_.handle.stat()
        from .fsctl import apply_sparse_attribute

        apply_sparse_attribute(self.ctx, open_, stat)
        if open_.file_key is not None:
            stat.delete_pending = sharemodes.delete_pending_seen(self, open_)
        status = st.STATUS_SUCCESS
        if r.info_type == InfoType.FILE and r.file_info_class == fi.FILE_FULL_EA_INFORMATION:
            if open_.kind == "pipe":
                raise NtStatusError(st.STATUS_INVALID_PARAMETER, "no EAs on a pipe")
            if not open_.granted_access & FILE_READ_EA:  # MS-FSA 2.1.5.12.11
                raise NtStatusError(st.STATUS_ACCESS_DENIED)
            data, status = eas.query(
                open_, r.flags, r.additional_information, r.input_buffer, r.output_buffer_length
            )
        elif r.info_type == InfoType.FILE:
            if r.file_info_class in (
                fi.FILE_ALL_INFORMATION,
                fi.FILE_BASIC_INFORMATION,
                fi.FILE_NETWORK_OPEN_INFORMATION,
                fi.FILE_ATTRIBUTE_TAG_INFORMATION,  # MS-FSA 2.1.5.12.5
            ) and not (open_.granted_access & FILE_READ_ATTRIBUTES):
                raise NtStatusError(st.STATUS_ACCESS_DENIED)
            handle = open_.handle
            data = fi.encode_file_info(
                r.file_info_class,
                stat,
                access_mask=open_.granted_access,
                position=open_.position,
                mode=open_.mode,
                smb_path=open_.smb_path,
                streams=handle.stream_entries()
                if r.file_info_class == fi.FILE_STREAM_INFORMATION and open_.kind != "pipe"
                else None,
                alternate_name=handle.alternate_name()
                if r.file_info_class == fi.FILE_ALTERNATE_NAME_INFORMATION and open_.kind != "pipe"
                else None,
                ea_size=eas.size(handle)
                if r.file_info_class in (fi.FILE_EA_INFORMATION, fi.FILE_ALL_INFORMATION)
                and open_.kind != "pipe"
                else 0,
            )
            data, status = fi.fit_query_output(r.file_info_class, data, r.output_buffer_length)
        elif r.info_type == InfoType.FILESYSTEM:
            if tree.fs is None:
                raise NtStatusError(st.STATUS_INVALID_PARAMETER)
            vs = tree.fs.volume_stats()
            data = fi.encode_fs_info(
                r.file_info_class,
                total_bytes=vs.total_bytes,
                free_bytes=vs.free_bytes,
                caller_free_bytes=vs.caller_free_bytes,
                volume_label=vs.volume_label,
                volume_serial=vs.volume_serial,
                creation_time=vs.creation_time,
                read_only=tree.read_only,
            )
            data, status = fi.fit_output(
                data, r.output_buffer_length, minimum=fi.FS_INFO_MIN.get(r.file_info_class, 0)
            )
        elif r.info_type == InfoType.SECURITY:
            data = self._query_security(req, open_, r.additional_information, stat, tree)
            if len(data) > r.output_buffer_length:
                # MS-SMB2 3.3.5.20.3: STATUS_BUFFER_TOO_SMALL with the needed size.
                return self.ok(
                    req,
                    [pack_error_response(struct.pack("<I", len(data)))],
                    status=st.STATUS_BUFFER_TOO_SMALL,
                )
        elif r.info_type == InfoType.QUOTA:
            raise NtStatusError(st.STATUS_NOT_SUPPORTED)
        else:
            raise NtStatusError(st.STATUS_INVALID_PARAMETER)
        return self.ok(req, [pack_output_response(data)], status=status)

    def _set_info(self, req: Request) -> Reply:
        r = SetInfoRequest.unpack(req.pdu)
        open_ = self._lookup_open(req, r.file_id)
        tree = self._tree(req)
        if r.info_type == InfoType.SECURITY:
            return self._set_security(req, open_, r.additional_information, r.buffer, tree)
        if r.info_type != InfoType.FILE:
            raise NtStatusError(st.STATUS_NOT_SUPPORTED)
        if open_.kind == "pipe":
            raise NtStatusError(st.STATUS_NOT_SUPPORTED)
        if r.file_info_class == fi.FILE_FULL_EA_INFORMATION:  # MS-FSA 2.1.5.15.3
            self._need(open_.granted_access, FILE_WRITE_EA, tree)
            eas.set_eas(open_.handle, r.buffer)
            return self.ok(req, [pack_set_info_response()])
        info = fi.decode_set_file_info(r.file_info_class, r.buffer)
        old_path = open_.handle.smb_path
        h = open_.handle
        ga = open_.granted_access
        if isinstance(info, fi.BasicInfo):
            self._need(ga, FILE_WRITE_ATTRIBUTES, tree)
            h.set_basic_info(
                info.creation_time,
                info.last_access_time,
                info.last_write_time,
                info.change_time,
                info.file_attributes,
            )
        elif isinstance(info, fi.RenameInfo):
            self._need(ga, DELETE, tree)
            if info.root_directory:
                raise NtStatusError(st.STATUS_INVALID_PARAMETER, "RootDirectory must be 0")
            new_path = info.file_name.strip("\\")
            if isinstance(h, StreamOpen):
                # a stream renames within its file (MS-FSA 2.1.5.15.11.1): no directory
                # entry changes, so the target directory's DACL does not apply
                dir_key = tree.fs.parent_dir_key(new_path)
                sharemodes.rename_stream(self, open_, new_path, info.replace_if_exists, dir_key)
                open_.smb_path = open_.handle.smb_path
            else:
                filesd.check_rename(
                    tree.fs, new_path, req.session, info.replace_if_exists, self.ctx.sid_for_uid
                )
                sharemodes.rename(self, open_, new_path, info.replace_if_exists)
                open_.smb_path = new_path
                if open_.oplock_key is not None:
                    self.ctx.oplocks.break_handles(
                        open_.oplock_key, self, open_.volatile_id, self.now
                    )
        elif isinstance(info, fi.DispositionInfo):
            self._need(ga, DELETE, tree)
            sharemodes.set_disposition(self, open_, info.delete_pending)
            if info.delete_pending and open_.oplock_key is not None:
                self.ctx.oplocks.break_handles(open_.oplock_key, self, open_.volatile_id, self.now)
        elif isinstance(info, fi.PositionInfo):
            open_.position = info.current_byte_offset
        elif isinstance(info, fi.ModeInfo):
            open_.mode = info.mode
        elif isinstance(info, fi.AllocationInfo):
            self._need(ga, FILE_WRITE_DATA, tree)
            h.set_allocation(info.allocation_size)
            self._size_changed(open_)
        elif isinstance(info, fi.EndOfFileInfo):
            self._need(ga, FILE_WRITE_DATA, tree)
            h.set_end_of_file(info.end_of_file)
            self._size_changed(open_)
        notify.on_set_info(self, open_, info, old_path)
        dirleases.on_set_info(self, open_, info, old_path)
        return self.ok(req, [pack_set_info_response()])

    def _query_security(self, req: Request, open_: Open, info: int, stat, tree) -> bytes:
        """MS-SMB2 3.3.5.20.3 / MS-FSA 2.1.5.13: the parts of the object's descriptor that
        AdditionalInformation names (READ_CONTROL / ACCESS_SYSTEM_SECURITY needed)."""
        if open_.kind == "pipe":
            return fi.encode_security_descriptor(stat, info, read_only=tree.read_only)
        need = filesd.required_for_query(info)
        if need & ~open_.granted_access:
            raise NtStatusError(st.STATUS_ACCESS_DENIED, "security query not granted")
        return filesd.query_blob(
            filesd.load_open(open_.handle, req.session, self.ctx.sid_for_uid).sd, info
        )

    def _set_security(self, req: Request, open_: Open, info: int, data, tree) -> Reply:
        """MS-SMB2 3.3.5.21.3 / MS-FSA 2.1.5.16: WRITE_DAC for the DACL, WRITE_OWNER for
        owner and group; the result is persisted (filesd.py)."""
        if open_.kind == "pipe":
            raise NtStatusError(st.STATUS_NOT_SUPPORTED)
        need = filesd.required_for_set(info)
        if not need:  # only parts lanman does not keep (label, attributes, scope)
            return self.ok(req, [pack_set_info_response()])
        if tree.read_only or need & ~open_.granted_access:
            raise NtStatusError(st.STATUS_ACCESS_DENIED, "security change not granted")
        token = req.session.token
        if token is None:
            raise NtStatusError(st.STATUS_ACCESS_DENIED, "no token")
        old = filesd.load_open(open_.handle, req.session, self.ctx.sid_for_uid).sd
        filesd.store_open(open_.handle, filesd.apply_set_info(old, bytes(data), info, token))
        notify.on_security(self, open_)
        dirleases.touched(self, open_)
        return self.ok(req, [pack_set_info_response()])

    def _size_changed(self, open_: Open) -> None:
        """A size change breaks the others' read caching as a write does."""
        if open_.oplock_key is not None:
            self.ctx.oplocks.on_write(open_.oplock_key, self, open_.volatile_id, self.now)

    @staticmethod
    def _need(granted: int, bit: int, tree) -> None:
        if tree.read_only or not granted & bit:
            raise NtStatusError(st.STATUS_ACCESS_DENIED)

    # ---- IOCTL ----------------------------------------------------------------------------

    def _ioctl(self, req: Request) -> Reply:
        """MS-SMB2 3.3.5.15: the FSCTL table is in fsctl.py."""
        from .fsctl import handle_ioctl

        return handle_ioctl(self, req)

    def _validate_negotiate(self, req: Request, r: IoctlRequest, Disconnect) -> Reply:
        """MS-SMB2 3.3.5.15.12: any mismatch with what NEGOTIATE saw drops the connection."""
        if self.dialect == Dialect.SMB_3_1_1:
            raise Disconnect("VALIDATE_NEGOTIATE_INFO at 3.1.1")
        data = bytes(r.input)
        if len(data) < 24 or r.max_output_response < 24:
            raise Disconnect("VALIDATE_NEGOTIATE_INFO too short")
        caps, guid, sec, count = struct.unpack_from("<I16sHH", data)
        if count == 0 or len(data) < 24 + 2 * count:
            raise Disconnect("VALIDATE_NEGOTIATE_INFO dialects truncated")
        dialects = list(struct.unpack_from(f"<{count}H", data, 24))
        if (
            dialects != self.client_dialects
            or guid != self.client_guid
            or sec != self.client_security_mode
            or caps != self.client_capabilities
        ):
            self.ctx.emit_event(
                "MALFORMED_REQUEST",
                client=self.client_address,
                reason="VALIDATE_NEGOTIATE_INFO mismatch",
            )
            raise Disconnect("VALIDATE_NEGOTIATE_INFO mismatch (downgrade attempt?)")
        out = struct.pack(
            "<I16sHH",
            self.server_capabilities,
            self.settings.server_guid,
            self.server_security_mode,
            self.dialect,
        )
        reply = self.ok(req, [pack_ioctl_response(r.ctl_code, r.file_id, out)])
        reply.sign = bool(req.session and req.session.can_sign)  # always signed (Anatomy blog)
        return reply

    # ---- OPLOCK_BREAK acknowledgment (MS-SMB2 3.3.5.22.1) -------------------------

    def _oplock_break_ack(self, req: Request) -> Reply:
        from lanman.smb.wire.lease import (
            LEASE_BREAK_ACK_SIZE,
            OPLOCK_BREAK_SIZE,
            break_structure_size,
            pack_lease_break_ack_response,
            pack_oplock_break,
            unpack_lease_break_ack,
            unpack_oplock_break,
        )

        size = break_structure_size(req.pdu)
        if size == LEASE_BREAK_ACK_SIZE and self.server_capabilities & 0x2:
            # MS-SMB2 3.3.5.22.2: a lease break acknowledgment
            key, state = unpack_lease_break_ack(req.pdu)
            self.ctx.oplocks.acknowledge_lease(self.client_guid, key, state, self.now)
            # the response names the state acknowledged, even when the next step of the
            # break (leases.next_break_step) already took the lease below it
            return self.ok(req, [pack_lease_break_ack_response(key, state)])
        if size != OPLOCK_BREAK_SIZE:
            raise NtStatusError(st.STATUS_INVALID_PARAMETER, "bad OPLOCK_BREAK StructureSize")
        level, file_id = unpack_oplock_break(req.pdu)
        open_ = self._lookup_open(req, file_id)
        if open_.oplock_key is None:
            raise NtStatusError(st.STATUS_INVALID_OPLOCK_PROTOCOL)
        new = self.ctx.oplocks.acknowledge(open_.oplock_key, self, open_.volatile_id, level)
        return self.ok(req, [pack_oplock_break(new, open_.file_id)])
