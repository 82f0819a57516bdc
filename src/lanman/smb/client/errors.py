"""Client-side failures: one exception carrying the NTSTATUS, the Windows code and the
explanation (:mod:`lanman.errors.explain`)."""

from __future__ import annotations

from lanman.errors import ntstatus as nts
from lanman.errors import win32
from lanman.errors.explain import Explanation, explain, explain_for_family

__all__ = ["SmbClientError", "SmbProtocolError"]


class SmbClientError(Exception):
    """An SMB operation failed.

    ``status`` is the NTSTATUS (from the wire, or the client-local status Windows' redirector
    uses: STATUS_INVALID_SIGNATURE, STATUS_SMB_GUEST_LOGON_BLOCKED, ...); ``key`` selects the
    explanation (:data:`lanman.errors.explain.FAILURES`) when the status alone is ambiguous
    (STATUS_INVALID_SIGNATURE: "server_will_not_sign" vs "bad_signature").
    """

    def __init__(
        self, status: int, detail: str = "", *, key: str | None = None, command: str = ""
    ) -> None:
        self.status = status & 0xFFFFFFFF
        self.detail = detail
        self.command = command
        self.explanation: Explanation | None = explain(key) if key else explain(self.status)
        self.key = self.explanation.key if self.explanation else None
        self.family = ""  # the server family, when recognised (set_family)
        self.family_evidence = ""
        entry = nts.lookup(self.status)
        self.ntstatus_name = entry.name
        w = win32.from_ntstatus(self.status)
        if self.explanation is not None and self.explanation.ntstatus != self.explanation.code:
            w = win32.lookup(self.explanation.code)
        self.win32 = w
        where = f"{command}: " if command else ""
        self.message = f"{where}0x{self.status:08X} {entry.name}: {entry.message}" + (
            f" ({detail})" if detail else ""
        )
        super().__init__(self.message)

    def set_family(self, family: str, evidence: str = "") -> None:
        """Choose the remedies for the recognised server family
        (:func:`lanman.errors.explain.explain_for_family`)."""
        self.family, self.family_evidence = family, evidence
        if self.key is not None:
            self.explanation = explain_for_family(self.key, family, evidence)

    # attributes lanman.cli._common.report_error understands
    @property
    def win32_code(self) -> int | None:
        return self.win32.value if self.win32 else None

    @property
    def win32_name(self) -> str | None:
        return self.win32.name if self.win32 else None

    @property
    def win32_text(self) -> str | None:
        return self.win32.message if self.win32 else None

    @property
    def remedy(self) -> str:
        if self.explanation is None or not self.explanation.remedies:
            return ""
        return self.explanation.remedies[0].summary

    def lines(self) -> list[str]:
        """Windows-style code lines, then cause and remedies (or the bare status)."""
        if self.explanation is not None:
            out = self.explanation.lines()
            if self.detail:
                out.insert(len(self.explanation.shown), f"Detail: {self.detail}")
            return out
        e = nts.lookup(self.status)
        out = [f"0x{e.value:08x} {e.signed} {e.name} {e.message}"]
        if self.win32 is not None and self.win32.value:
            out.append(f"{self.win32.system_error_line()} {self.win32.message}")
        if self.detail:
            out.append(f"Detail: {self.detail}")
        return out


class SmbProtocolError(SmbClientError):
    """The server broke the protocol (malformed or unexpected response)."""

    def __init__(self, detail: str) -> None:
        super().__init__(nts.STATUS_INVALID_NETWORK_RESPONSE, detail)
