"""The friendly, blocking SMB client: ``SmbClient.connect(...)`` then file operations.

Drives a :class:`~lanman.smb.client.connection.ClientConnection` over a transport (a
:class:`~lanman.smb.client.transport.SocketTransport`, or anything with ``send(parts)`` /
``recv()`` / ``close()`` — the unit tests plug the in-process server in there).

Policy: unless ``require_signing`` / ``allow_insecure_guest`` are given, the client obeys the
effective client policy (RequireSecuritySignature, AllowInsecureGuestAuth) of the lanman
home, or of the default profile when no home is given — like the Workstation service.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from lanman.errors import ntstatus as nts
from lanman.smb.wire.constants import (
    DELETE,
    FILE_CREATE,
    FILE_DELETE_ON_CLOSE,
    FILE_DIRECTORY_FILE,
    FILE_GENERIC_READ,
    FILE_GENERIC_WRITE,
    FILE_NON_DIRECTORY_FILE,
    FILE_OPEN,
    FILE_OVERWRITE_IF,
    FILE_READ_ATTRIBUTES,
    FILE_READ_DATA,
    FILE_WRITE_DATA,
    SYNCHRONIZE,
    Command,
    InfoType,
    QueryDirectoryFlags,
)
from lanman.smb.wire.create import CloseRequest, CreateRequest, CreateResponse
from lanman.smb.wire.header import WireError
from lanman.smb.wire.io import (
    ReadRequest,
    pack_write_request_fixed,
    unpack_read_response,
    unpack_write_response,
)
from lanman.smb.wire.query import QueryDirectoryRequest, SetInfoRequest, unpack_output_response
from lanman.smb.wire.session import TreeConnectRequest, TreeConnectResponse, empty_body

from .connection import ALL_DIALECTS, ClientConnection, Incoming, Outgoing, dialect_label
from .errors import SmbClientError, SmbProtocolError
from .fsinfo import (
    FILE_DIRECTORY_INFORMATION,
    FILE_RENAME_INFORMATION,
    RemoteEntry,
    pack_rename_info,
    parse_directory_information,
)
from .transport import SocketTransport, Transport

__all__ = ["ClientSettings", "ConnectionInfo", "EventSink", "SmbClient", "resolve_policy"]

EventSink = Callable[[str, dict], None]
FILE_SHARE_ALL = 0x7
PIPELINE_DEPTH = 4


@dataclass(frozen=True, slots=True)
class ClientSettings:
    """The client policy in force and where each value came from."""

    require_signing: bool
    require_signing_origin: str
    allow_insecure_guest: bool
    allow_insecure_guest_origin: str
    profile: str = ""


def resolve_policy(
    home=None, *, require_signing: bool | None = None, allow_insecure_guest: bool | None = None
) -> ClientSettings:
    """Flags win; otherwise the home's effective client policy (Group Policy > local >
    profile default); without a home, the default profile's defaults."""
    from lanman.policy.effective import client_policy
    from lanman.policy.layers import HostPolicy

    if home is not None:
        from lanman.policy.hoststate import open_host

        host = open_host(home)
    else:
        host = HostPolicy()
    cp = client_policy(host)
    if require_signing is None:
        req, req_o = cp.require_signing, cp.require.origin
    else:
        req, req_o = bool(require_signing), "command line"
    if allow_insecure_guest is None:
        g = cp.allow_insecure_guest
        allow, allow_o = cp.insecure_guest_allowed, (g.origin if g else "default")
    else:
        allow, allow_o = bool(allow_insecure_guest), "command line"
    return ClientSettings(req, req_o, allow, allow_o, host.profile_name)


@dataclass(frozen=True, slots=True)
class ConnectionInfo:
    """One row of Get-SmbConnection (plus the signing algorithm and guest flag)."""

    server_name: str
    share_name: str
    user_name: str
    credential: str
    dialect: str
    signed: bool
    signing_algorithm: str
    encrypted: bool
    is_guest: bool
    is_anonymous: bool
    num_opens: int
    port: int = 445
    cipher: str = ""  # e.g. AES-128-GCM once negotiated

    def as_dict(self) -> dict[str, object]:
        return {
            "ServerName": self.server_name,
            "ShareName": self.share_name,
            "UserName": self.user_name,
            "Credential": self.credential,
            "Dialect": self.dialect,
            "Signed": self.signed,
            "SigningAlgorithm": self.signing_algorithm or None,
            "Encrypted": self.encrypted,
            "Cipher": self.cipher or None,
            "IsGuest": self.is_guest,
            "IsAnonymous": self.is_anonymous,
            "NumOpens": self.num_opens,
            "Port": self.port,
        }


def _smb_path(path: str) -> str:
    p = path.replace("/", "\\").strip("\\")
    while "\\\\" in p:
        p = p.replace("\\\\", "\\")
    return "" if p in (".",) else p


class SmbClient:
    """A blocking SMB2/3 client session with at most one tree connected at a time."""

    def __init__(
        self,
        transport: Transport,
        conn: ClientConnection,
        *,
        events: EventSink | None = None,
        port: int = 445,
    ) -> None:
        self.transport = transport
        self.conn = conn
        self.events = events
        self.port = port
        self.tree_id = 0
        self.share = ""
        self.opens: set[bytes] = set()
        self._responses: dict[int, Incoming] = {}
        self._validated = False
        self.settings: ClientSettings | None = None
        self.warnings: list[str] = []  # e.g. why Kerberos could not be used
        self.kerberos_plan = None  # lanman.smb.client.kerberos.KerberosPlan when used
        self._kerberos = None  # KerberosInitiator for the next login

    # ---- connecting ---------------------------------------------------------------------

    @classmethod
    def connect(
        cls,
        host: str,
        port: int = 445,
        user: str = "",
        password: str = "",
        *,
        domain: str = "",
        share: str | None = None,
        dialects: Sequence[int] = ALL_DIALECTS,
        require_signing: bool | None = None,
        allow_insecure_guest: bool | None = None,
        anonymous: bool = False,
        home=None,
        events: EventSink | None = None,
        timeout: float = 30.0,
        transport: Transport | None = None,
        now_filetime: int = 0,
        kerberos: bool | None = None,
        address: str | None = None,
        kdc: str = "",
        realm: str = "",
        ccache: str | None = None,
        krb5_conf: str | None = None,
        encrypt: bool = False,
    ) -> SmbClient:
        """NEGOTIATE + SESSION_SETUP (+ TREE_CONNECT when ``share`` is given).

        ``anonymous`` (or an empty ``user`` without a Kerberos ticket) logs on with an NTLM
        null session; a server may answer with a guest or anonymous session, which the guest
        policy then judges.

        Kerberos (``kerberos``: None = when possible, True = required, False = never): the SPN
        is ``cifs/<host as given>``; the ticket comes from ``ccache`` (KRB5CCNAME by default)
        or from ``user``/``password`` at ``kdc`` (krb5.conf by default) in ``realm``.
        ``address`` connects to that IP while ``host`` still names the server (smbclient -I).
        Why Kerberos was not used, when the user can fix it, lands in ``warnings``.
        ``encrypt`` requires SMB 3 encryption for the session (RequireEncryption).
        """
        settings = resolve_policy(
            home, require_signing=require_signing, allow_insecure_guest=allow_insecure_guest
        )
        if "\\" in user and not domain:
            domain, user = user.split("\\", 1)
        conn = ClientConnection(
            dialects=tuple(dialects),
            require_signing=settings.require_signing,
            allow_insecure_guest=settings.allow_insecure_guest,
            server_name=host,
            now_filetime=now_filetime,
            encrypt=encrypt,
        )
        client_krb = None
        warnings: list[str] = []
        plan = None
        if kerberos is not False and not anonymous:
            client_krb, plan, warnings = _kerberos_initiator(
                host,
                user,
                password,
                domain,
                kerberos is True,
                kdc=kdc,
                realm=realm,
                ccache=ccache,
                krb5_conf=krb5_conf,
            )
        t = transport or SocketTransport(address or host, port, timeout=timeout)
        client = cls(t, conn, events=events, port=port)
        client.settings = settings
        client.warnings = warnings
        client.kerberos_plan = plan
        client._kerberos = client_krb
        try:
            client.negotiate()
            client.login(
                user, password, domain, anonymous=anonymous or (not user and client_krb is None)
            )
            if share is not None:
                client.tree_connect(share)
        except BaseException as e:
            client._flush_events()
            client.close(logoff=False)
            if isinstance(e, SmbClientError):
                recognise_failure(e, conn)
            raise
        return client

    def negotiate(self) -> None:
        out = self.conn.negotiate()
        self._send(out)
        self.conn.on_negotiate(self._wait(out.message_id))

    def login(self, user: str, password: str, domain: str = "", *, anonymous: bool = False) -> None:
        krb, self._kerberos = self._kerberos, None  # a ticket's authenticator is single-use
        out = self.conn.session_setup(user, password, domain, anonymous=anonymous, kerberos=krb)
        for _ in range(8):
            self._send(out)
            inc = self._wait(out.message_id)
            try:
                nxt = self.conn.on_session_setup(inc)
            finally:
                self._flush_events()
            if nxt is None:
                return
            out = nxt
        raise SmbProtocolError("SESSION_SETUP did not complete")

    @property
    def mechanism(self) -> str:
        """ "Kerberos" or "NTLM" (the established session's mechanism; "" before)."""
        return self.conn.session.mechanism

    # ---- plumbing -----------------------------------------------------------------------

    def _flush_events(self) -> None:
        for name, fields in self.conn.drain_events():
            if self.events is not None:
                with contextlib.suppress(Exception):  # logging must not break the client
                    self.events(name, fields)

    def _send(self, out: Outgoing) -> None:
        self.transport.send(out.parts)

    def _pump(self) -> None:
        for inc in self.conn.receive(self.transport.recv()):
            if inc.is_interim or inc.message_id == 0xFFFFFFFFFFFFFFFF:
                continue
            self._responses[inc.message_id] = inc
        self._flush_events()

    def _wait(self, mid: int) -> Incoming:
        for _ in range(100000):
            inc = self._responses.pop(mid, None)
            if inc is not None:
                return inc
            self._pump()
        raise SmbProtocolError("no response")

    def _ensure_credits(self, n: int) -> None:
        for _ in range(1000):
            if self.conn.available >= n:
                return
            if not self.conn.outstanding:
                break
            self._pump()
        if self.conn.available < n:
            raise SmbProtocolError(f"server granted no credits ({self.conn.available})")

    def _start(
        self,
        command: int,
        body: bytes,
        *,
        payload: int = 0,
        data=None,
        sign: bool | None = None,
        tree: bool = True,
    ) -> int:
        self._ensure_credits(self.conn.charge_for(payload))
        out = self.conn.request(
            command,
            body,
            tree_id=self.tree_id if tree else 0,
            payload=payload,
            data=data,
            sign=sign,
        )
        self._send(out)
        return out.message_id

    def _finish(self, mid: int, what: str, ok: tuple[int, ...] = (nts.STATUS_SUCCESS,)) -> Incoming:
        inc = self._wait(mid)
        if inc.error is not None:
            raise inc.error
        if inc.status not in ok:
            raise SmbClientError(inc.status, command=what)
        return inc

    def _call(
        self,
        command: int,
        body: bytes,
        what: str,
        *,
        ok: tuple[int, ...] = (nts.STATUS_SUCCESS,),
        **kw,
    ) -> Incoming:
        return self._finish(self._start(command, body, **kw), what, ok)

    # ---- tree ---------------------------------------------------------------------------

    def tree_connect(self, share: str) -> None:
        if self.tree_id:
            self.tree_disconnect()
        host = self.conn.server_name or "server"
        body = TreeConnectRequest(f"\\\\{host}\\{share}").pack()
        inc = self._call(
            Command.TREE_CONNECT, body, f"TREE_CONNECT \\\\{host}\\{share}", tree=False
        )
        try:
            resp = TreeConnectResponse.unpack(inc.pdu)
        except WireError as e:
            raise SmbProtocolError(f"TREE_CONNECT response: {e}") from None
        self.tree_id = inc.header.tree_id
        self.conn.on_tree_connect(self.tree_id, resp.share_flags)
        self.share = share
        if self.conn.needs_validate_negotiate and not self._validated:
            out = self.conn.validate_negotiate(self.tree_id)
            self._send(out)
            try:
                self.conn.on_validate_negotiate(self._wait(out.message_id))
            except SmbClientError:
                self.close(logoff=False)
                raise
            self._validated = True

    def tree_disconnect(self) -> None:
        if self.tree_id:
            for fid in list(self.opens):
                self._close(fid)
            self._call(Command.TREE_DISCONNECT, empty_body(4), "TREE_DISCONNECT")
            self.tree_id = 0
            self.share = ""

    def _need_tree(self) -> None:
        if not self.tree_id:
            raise SmbClientError(nts.STATUS_BAD_NETWORK_NAME, "no share connected")

    # ---- files --------------------------------------------------------------------------

    def _open(
        self,
        path: str,
        access: int,
        disposition: int,
        options: int = 0,
        attributes: int = 0x80,
        what: str = "CREATE",
    ) -> CreateResponse:
        self._need_tree()
        body = CreateRequest(
            _smb_path(path), access, attributes, FILE_SHARE_ALL, disposition, options
        ).pack()
        inc = self._call(Command.CREATE, body, f"{what} {path}")
        try:
            r = CreateResponse.unpack(inc.pdu)
        except WireError as e:
            raise SmbProtocolError(f"CREATE response: {e}") from None
        self.opens.add(r.file_id)
        return r

    def _close(self, fid: bytes) -> None:
        self.opens.discard(fid)
        self._call(Command.CLOSE, CloseRequest(fid).pack(), "CLOSE")

    # ---- named pipes (IPC$) ----------------------------------------------------------

    def open_pipe(self, name: str) -> bytes:
        """Open ``\\pipe\\name`` on the connected IPC$ tree; returns the FileId."""
        return self._open(
            name,
            FILE_READ_DATA | FILE_WRITE_DATA,
            FILE_OPEN,
            FILE_NON_DIRECTORY_FILE,
            0,
            what="CREATE pipe",
        ).file_id

    def pipe_write(self, fid: bytes, data: bytes) -> None:
        """One message into the pipe (MS-SMB2 2.2.21)."""
        self._call(
            Command.WRITE,
            pack_write_request_fixed(fid, 0, len(data)),
            "WRITE pipe",
            payload=len(data),
            data=data,
        )

    def pipe_read(self, fid: bytes, max_length: int = 8192) -> tuple[bytes, bool]:
        """Up to ``max_length`` bytes of the next message; True when more of it remains
        (STATUS_BUFFER_OVERFLOW, MS-SMB2 3.3.5.12)."""
        inc = self._call(
            Command.READ,
            ReadRequest(fid, max_length, 0).pack(),
            "READ pipe",
            ok=(nts.STATUS_SUCCESS, nts.STATUS_BUFFER_OVERFLOW),
            payload=max_length,
        )
        return bytes(unpack_read_response(inc.pdu)), inc.status == nts.STATUS_BUFFER_OVERFLOW

    def close_file(self, fid: bytes) -> None:
        self._close(fid)

    def stat(self, path: str) -> RemoteEntry:
        r = self._open(path, FILE_READ_ATTRIBUTES | SYNCHRONIZE, FILE_OPEN, attributes=0)
        self._close(r.file_id)
        name = _smb_path(path).rsplit("\\", 1)[-1]
        return RemoteEntry(
            name,
            r.end_of_file,
            r.file_attributes,
            r.creation_time,
            r.last_access_time,
            r.last_write_time,
            r.change_time,
            r.allocation_size,
        )

    def listdir(self, path: str = "", pattern: str = "*") -> list[RemoteEntry]:
        r = self._open(
            path,
            FILE_READ_DATA | FILE_READ_ATTRIBUTES | SYNCHRONIZE,
            FILE_OPEN,
            FILE_DIRECTORY_FILE,
            attributes=0,
        )
        out: list[RemoteEntry] = []
        try:
            flags = QueryDirectoryFlags.RESTART_SCANS
            for _ in range(100000):
                body = QueryDirectoryRequest(
                    FILE_DIRECTORY_INFORMATION, flags, 0, r.file_id, pattern, 65536
                ).pack()
                inc = self._call(
                    Command.QUERY_DIRECTORY,
                    body,
                    f"QUERY_DIRECTORY {path}",
                    ok=(nts.STATUS_SUCCESS, nts.STATUS_NO_MORE_FILES),
                    payload=65536,
                )
                if inc.status == nts.STATUS_NO_MORE_FILES:
                    break
                try:
                    out.extend(parse_directory_information(unpack_output_response(inc.pdu)))
                except WireError as e:
                    raise SmbProtocolError(f"QUERY_DIRECTORY response: {e}") from None
                flags = 0
        finally:
            self._close(r.file_id)
        return out

    def get(self, remote: str, local: str | os.PathLike) -> int:
        """Download ``remote`` to ``local``; READs of up to MaxReadSize, several in flight."""
        r = self._open(remote, FILE_GENERIC_READ, FILE_OPEN, FILE_NON_DIRECTORY_FILE)
        size = r.end_of_file
        chunk = self.conn.read_chunk
        done = 0
        try:
            with open(local, "wb") as fh:
                inflight: list[tuple[int, int, int]] = []  # (mid, offset, length)
                offset = 0
                while offset < size or inflight:
                    while offset < size and len(inflight) < PIPELINE_DEPTH:
                        n = min(chunk, size - offset)
                        if self.conn.available < self.conn.charge_for(n) and inflight:
                            break
                        body = ReadRequest(r.file_id, n, offset).pack()
                        inflight.append((self._start(Command.READ, body, payload=n), offset, n))
                        offset += n
                    mid, off, n = inflight.pop(0)
                    inc = self._finish(
                        mid, f"READ {remote}", ok=(nts.STATUS_SUCCESS, nts.STATUS_END_OF_FILE)
                    )
                    if inc.status == nts.STATUS_END_OF_FILE:
                        continue
                    data = unpack_read_response(inc.pdu)
                    fh.seek(off)
                    fh.write(data)
                    done += len(data)
        finally:
            self._close(r.file_id)
        return done

    def put(self, local: str | os.PathLike, remote: str) -> int:
        """Upload ``local`` to ``remote`` (replaced); WRITEs up to MaxWriteSize in flight."""
        r = self._open(
            remote,
            FILE_GENERIC_WRITE | FILE_GENERIC_READ,
            FILE_OVERWRITE_IF,
            FILE_NON_DIRECTORY_FILE,
        )
        chunk = self.conn.write_chunk
        total = 0
        try:
            with open(local, "rb") as fh:
                inflight: list[tuple[int, int]] = []
                offset = 0
                eof = False
                while not eof or inflight:
                    while not eof and len(inflight) < PIPELINE_DEPTH:
                        data = fh.read(chunk)
                        if not data:
                            eof = True
                            break
                        if self.conn.available < self.conn.charge_for(len(data)) and inflight:
                            mid, n = inflight.pop(0)
                            total += self._write_done(mid, remote, n)
                        fixed = pack_write_request_fixed(r.file_id, offset, len(data))
                        mid = self._start(Command.WRITE, fixed, payload=len(data), data=data)
                        inflight.append((mid, len(data)))
                        offset += len(data)
                    if inflight:
                        mid, n = inflight.pop(0)
                        total += self._write_done(mid, remote, n)
        finally:
            self._close(r.file_id)
        return total

    def _write_done(self, mid: int, remote: str, n: int) -> int:
        inc = self._finish(mid, f"WRITE {remote}")
        count = unpack_write_response(inc.pdu)
        if count != n:
            raise SmbProtocolError(f"short write ({count} of {n} bytes)")
        return count

    def mkdir(self, path: str) -> None:
        r = self._open(
            path,
            FILE_READ_ATTRIBUTES | SYNCHRONIZE,
            FILE_CREATE,
            FILE_DIRECTORY_FILE,
            attributes=0x10,
            what="MKDIR",
        )
        self._close(r.file_id)

    def rmdir(self, path: str) -> None:
        r = self._open(
            path,
            DELETE | FILE_READ_ATTRIBUTES | SYNCHRONIZE,
            FILE_OPEN,
            FILE_DIRECTORY_FILE | FILE_DELETE_ON_CLOSE,
            attributes=0,
            what="RMDIR",
        )
        self._close(r.file_id)

    def remove(self, path: str) -> None:
        r = self._open(
            path,
            DELETE | FILE_READ_ATTRIBUTES | SYNCHRONIZE,
            FILE_OPEN,
            FILE_NON_DIRECTORY_FILE | FILE_DELETE_ON_CLOSE,
            attributes=0,
            what="DELETE",
        )
        self._close(r.file_id)

    def rename(self, old: str, new: str, *, replace: bool = False) -> None:
        r = self._open(
            old, DELETE | FILE_READ_ATTRIBUTES | SYNCHRONIZE, FILE_OPEN, attributes=0, what="RENAME"
        )
        try:
            body = SetInfoRequest(
                InfoType.FILE,
                FILE_RENAME_INFORMATION,
                0,
                r.file_id,
                pack_rename_info(_smb_path(new), replace),
            ).pack()
            self._call(Command.SET_INFO, body, f"RENAME {old} -> {new}")
        finally:
            self._close(r.file_id)

    def read_bytes(self, remote: str) -> bytes:
        """Small helper for tests and scripts: the whole file as bytes."""
        import tempfile

        with tempfile.TemporaryDirectory() as d:
            p = Path(d) / "f"
            self.get(remote, p)
            return p.read_bytes()

    def echo(self) -> None:
        self._call(Command.ECHO, empty_body(4), "ECHO", tree=False)

    # ---- reporting / teardown -----------------------------------------------------------

    def connection_info(self) -> ConnectionInfo:
        c = self.conn
        s = c.session
        user = s.user if not s.anonymous_requested else ""
        if s.domain and user:
            user = f"{s.domain}\\{user}"
        shown = "Guest" if s.is_guest else ("Anonymous" if s.is_null else user)
        return ConnectionInfo(
            server_name=c.server_name,
            share_name=self.share,
            user_name=shown,
            credential=user or "(anonymous)",
            dialect=dialect_label(c.dialect),
            signed=c.signed,
            signing_algorithm=c.signing_algorithm_name,
            encrypted=c.encrypted or (self.tree_id in c.encrypted_trees),
            cipher=c.cipher_name,
            is_guest=s.is_guest,
            is_anonymous=s.is_null,
            num_opens=len(self.opens),
            port=self.port,
        )

    def logoff(self) -> None:
        if self.conn.session.state == "valid":
            try:
                self._call(Command.LOGOFF, empty_body(4), "LOGOFF", tree=False)
            finally:
                self.conn.session.state = "none"

    def close(self, *, logoff: bool = True) -> None:
        try:
            if logoff and self.conn.state != "closed":
                try:
                    if self.tree_id:
                        self.tree_disconnect()
                    self.logoff()
                except SmbClientError:
                    pass
        finally:
            self.conn.state = "closed"
            self.transport.close()
            self._flush_events()

    def __enter__(self) -> SmbClient:  # noqa: PYI034
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _kerberos_initiator(host, user, password, domain, required, **kw):
    """-> (KerberosInitiator or None, KerberosPlan or None, warnings)."""
    import logging

    from lanman.auth.kerberos import KerberosInitiator

    from .kerberos import KerberosUnavailable, acquire_service_ticket

    realm = kw.pop("realm", "") or (domain.upper() if "." in domain else "")
    try:
        ticket, plan = acquire_service_ticket(
            host, user=user, password=password, realm=realm, auto=not required, **kw
        )
    except KerberosUnavailable as e:
        if required:
            raise SmbClientError(
                nts.STATUS_LOGON_FAILURE,
                f"Kerberos is required but unavailable: {e.detail}"
                + (f" ({e.warning})" if e.warning else ""),
                command="SESSION_SETUP",
            ) from None
        if e.warning:
            logging.getLogger("lanman.smb.client").warning("%s", e.warning)
            return None, None, [e.warning]
        return None, None, []
    return KerberosInitiator(ticket), plan, []


def recognise_failure(e: SmbClientError, conn: ClientConnection) -> None:
    """Name the server family on a failure, so the remedy fits that server."""
    from lanman.scan.family import recognise_server

    try:
        family, evidence = recognise_server(**conn.server_identity())  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001 - recognition is a hint, never a second failure
        return
    if family != "unknown":
        e.set_family(family, evidence)
