"""The interactive shell of ``lanman client //HOST/SHARE`` (smbclient's ``smb: \\>``).

Commands are those of the ``-c`` runner (``client.run_command``: one implementation), plus
``help``/``?`` and ``exit``/``quit``/``q``. A failing command prints one line on the error
stream (``NT_STATUS_OBJECT_NAME_NOT_FOUND opening remote file \\x``) and the shell goes on;
EOF (Ctrl-D) ends it. On a terminal, the line editor is Python's readline when available
(history in memory only) and Ctrl-C at the prompt cancels the line. Without a terminal
(``lanman client //h/s < cmds.txt``) commands are read one per line, no prompt is shown, and
the result is 1 if any command failed (as smbclient).

The streams are passed in, so the loop is tested without a terminal.
"""

from __future__ import annotations

import sys
from typing import TextIO

import click

from lanman.cli._common import CliError
from lanman.cli.client import (
    COMMANDS,
    CommandState,
    UnknownCommand,
    run_command,
    split_words,
)
from lanman.smb.client import SmbClient, SmbClientError

EXIT_WORDS = ("exit", "quit", "q", "bye")

HELP = f"""Commands: {COMMANDS}, help (?), exit (quit, q).
  ls [DIR|PATTERN]        list a directory          cd [DIR]     change/show directory
  get REMOTE [LOCAL]      download a file           put LOCAL [REMOTE]  upload a file
  mget PATTERN...         download matching files   mput PATTERN...     upload matching files
  mkdir DIR  rmdir DIR  rm FILE  rename OLD NEW  stat PATH  allinfo PATH  lcd [DIR]  pwd"""


def error_line(e: BaseException, state: CommandState) -> str:
    """One line for a failed command, smbclient-style for NTSTATUS failures."""
    if isinstance(e, SmbClientError):
        name = e.ntstatus_name or f"0x{e.status:08X}"
        name = name if name.startswith("NT_") else f"NT_{name}"
        return (
            f"{name} {state.doing}".rstrip() if state.doing else f"{name} {e.detail or ''}".rstrip()
        )
    return getattr(e, "message", None) or str(e)


class Shell:
    def __init__(
        self,
        client: SmbClient,
        stdin: TextIO,
        stdout: TextIO,
        stderr: TextIO,
        *,
        interactive: bool,
    ) -> None:
        self.c = client
        self.stdin, self.stdout, self.stderr = stdin, stdout, stderr
        self.interactive = interactive
        self.state = CommandState()
        self.failures = 0
        self.commands = 0  # lines that named a command
        # input() on the real terminal: readline's line editing and history when loaded
        self._use_input = interactive and stdin is sys.stdin and stdout is sys.stdout
        if self._use_input:
            _load_readline()

    @property
    def prompt(self) -> str:
        return f"smb: {self.state.prompt_dir}> "

    def _out(self, s: str) -> None:
        print(s, file=self.stdout, flush=True)

    def _err(self, s: str) -> None:
        print(s, file=self.stderr, flush=True)

    def _read(self) -> str | None:
        """The next line, or None at EOF."""
        if self._use_input:
            try:
                return input(self.prompt)
            except EOFError:
                return None
        if self.interactive:
            self.stdout.write(self.prompt)
            self.stdout.flush()
        line = self.stdin.readline()
        return line.rstrip("\r\n") if line else None

    def run(self) -> int:
        """Loop until EOF or exit; returns the exit status (1 if a command failed and the
        input was not a terminal, else 0)."""
        while True:
            try:
                line = self._read()
            except KeyboardInterrupt:  # Ctrl-C at the prompt cancels the line
                self.stdout.write("\n")
                continue
            if line is None:
                if self.interactive:
                    self.stdout.write("\n")
                break
            if not self.one(line):
                break
        self.stdout.flush()
        return 1 if self.failures and not self.interactive else 0

    def one(self, line: str) -> bool:
        """Run one input line; False when it asks the shell to end."""
        try:
            words = split_words(line)
        except click.UsageError as e:
            self.failures += 1
            self._err(e.format_message())
            return True
        if not words or words[0].startswith("#"):
            return True
        self.commands += 1
        cmd = words[0].lower()
        if cmd in EXIT_WORDS:
            return False
        if cmd in ("help", "?"):
            self._out(HELP)
            return True
        try:
            run_command(self.c, self.state, words, self._out)
        except UnknownCommand:
            self.failures += 1
            self._err(f"{words[0]}: command not found")
        except click.UsageError as e:
            self.failures += 1
            self._err(e.format_message())
        except (SmbClientError, CliError) as e:
            self.failures += 1
            self._err(error_line(e, self.state))
        except OSError as e:  # the connection itself (reset, timeout)
            self.failures += 1
            self._err(f"{cmd}: {e.strerror or e}")
        return True


def _load_readline() -> None:
    """Line editing and in-memory history for input(), if this Python has readline."""
    try:
        import readline  # noqa: F401
    except ImportError:
        pass
