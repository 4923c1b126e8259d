"""A serial line served on a pseudo-terminal, reachable through a symlink at the configured path."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tty
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

MAX_LINE_BYTES = 256


class PtyLine:
    """Serve CR-terminated requests on a pty master; ``handler`` returns the answer or None."""

    def __init__(self, path: str | Path, handler: Callable[[bytes], bytes | None]) -> None:
        self.path = Path(path)
        self.handler = handler
        self._master: int | None = None
        self._slave: int | None = None
        self._inbox = bytearray()
        self._outbox = bytearray()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.tty_name = ""

    def open(self) -> None:
        """Create the pty and the symlink; start serving on the running loop."""
        self._loop = asyncio.get_running_loop()
        master, slave = os.openpty()
        self._master, self._slave = master, slave
        tty.setraw(slave)  # the slave stays open: closing it would make master reads fail (EIO)
        os.set_blocking(master, False)
        self.tty_name = os.ttyname(slave)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.is_symlink():
            self.path.unlink()
        elif self.path.exists():
            self.close()
            raise FileExistsError(f"{self.path} exists and is not a symlink")
        os.symlink(self.tty_name, self.path)
        self._loop.add_reader(master, self._on_readable)
        log.info("serial line %s -> %s", self.path, self.tty_name)

    def close(self) -> None:
        """Stop serving, close the pty, remove our symlink."""
        if self._loop is not None and self._master is not None:
            self._loop.remove_reader(self._master)
            self._loop.remove_writer(self._master)
        for fd in (self._master, self._slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = None
        with contextlib.suppress(OSError):
            if self.path.is_symlink() and os.readlink(self.path) == self.tty_name:
                self.path.unlink()

    def _on_readable(self) -> None:
        assert self._master is not None
        try:
            data = os.read(self._master, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            log.warning("pty %s read failed: %s", self.path, exc)
            return
        self._inbox += data.replace(b"\n", b"")
        while (end := self._inbox.find(b"\r")) >= 0:
            line = bytes(self._inbox[:end])
            del self._inbox[: end + 1]
            answer = self.handler(line)
            if answer:
                self._send(answer)
        if len(self._inbox) > MAX_LINE_BYTES:
            self._inbox.clear()

    def _send(self, data: bytes) -> None:
        self._outbox += data
        self._flush()

    def _flush(self) -> None:
        assert self._master is not None
        assert self._loop is not None
        try:
            written = os.write(self._master, self._outbox)
        except (BlockingIOError, InterruptedError):
            written = 0
        except OSError as exc:
            log.warning("pty %s write failed: %s", self.path, exc)
            self._outbox.clear()
            written = 0
        del self._outbox[:written]
        if self._outbox:
            self._loop.add_writer(self._master, self._flush)
        else:
            self._loop.remove_writer(self._master)
