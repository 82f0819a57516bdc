"""Related operations of a compound request (MS-SMB2 3.3.5.2.7.2), sans-IO.

:class:`RelatedChain` decides, PDU by PDU, whether a related request is processed or fails
at once, and with which status:

* the first PDU of a compound has nothing to relate to: flagged related, it fails with
  STATUS_INVALID_PARAMETER (as Windows and Samba answer);
* a failed CREATE leaves no FileId for the related requests after it: each fails with the
  CREATE's status (3.3.5.2.7.2);
* a request whose session could not be found leaves no session to inherit: the related
  requests after it fail with STATUS_INVALID_PARAMETER;
* any other failure (a WRITE denied, a CLOSE of a closed handle) does not spread: the next
  related request runs on the same FileId, as Windows does;
* a related request that failed for one of these reasons passes the status on, so the whole
  rest of the related chain fails the same way.

The FileId the related requests use is the one the previous request created or named
(``ServerConnection.compound_open_id``, set by CREATE and by every FileId lookup).
"""

from __future__ import annotations

from lanman.errors import ntstatus as st
from lanman.smb.wire.constants import Command

_ERROR_SEVERITY = 0b11 << 30  # the Sev bits of an NTSTATUS (MS-ERREF 2.3): 3 = error


def is_error(status: int) -> bool:
    """NTSTATUS severity "error" (warnings such as STATUS_BUFFER_OVERFLOW do not fail)."""
    return status & _ERROR_SEVERITY == _ERROR_SEVERITY


class RelatedChain:
    """The state of one received compound's related chain."""

    __slots__ = ("_first", "_status")

    def __init__(self) -> None:
        self._first = True
        self._status = st.STATUS_SUCCESS  # what the next related request inherits

    @classmethod
    def after_create(cls, status: int) -> RelatedChain:
        """The chain of a compound's rest whose previous request, a CREATE that went
        async, ended with ``status``."""
        chain = cls()
        chain._first = False
        chain.after(Command.CREATE, status, st.STATUS_SUCCESS, True)
        return chain

    def status_for(self, related: bool) -> int:
        """The status this request must fail with (STATUS_SUCCESS: process it)."""
        if self._first:
            self._first = False
            return st.STATUS_INVALID_PARAMETER if related else st.STATUS_SUCCESS
        return self._status if related else st.STATUS_SUCCESS

    def after(self, command: int, status: int, inherited: int, has_session: bool) -> None:
        """Record how the request ended (``inherited``: what :meth:`status_for` gave it)."""
        if inherited != st.STATUS_SUCCESS:
            self._status = inherited
        elif not is_error(status):
            self._status = st.STATUS_SUCCESS
        elif not has_session:
            self._status = st.STATUS_INVALID_PARAMETER
        elif command == Command.CREATE:
            self._status = status
        else:
            self._status = st.STATUS_SUCCESS
