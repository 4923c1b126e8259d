"""calibctl's exit codes (documented in docs/calibctl.md) and the error that carries one."""

from __future__ import annotations

#: the command completed (or was accepted, with --no-wait); a read-only command worked
OK = 0
#: the command was rejected, failed or aborted; a program ended other than COMPLETED
FAILED = 1
#: usage or configuration error (bad option, unreadable config, unknown system)
USAGE = 2
#: no broker, the daemon is not online (or went away), no reply in time
UNAVAILABLE = 3
#: interrupted (Ctrl-C)
INTERRUPTED = 130
#: standard output closed before everything was written (128 + SIGPIPE, as a shell reports it)
BROKEN_PIPE = 141


class CtlError(Exception):
    """A reason to stop with `exit_code`; `str()` is the message for the operator."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code
