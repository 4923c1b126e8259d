"""The one owner of a (multi-drop) serial line: request, then one answer line.

Before each request every byte already received is discarded (our buffer and the OS input
queue), so a late answer to a cancelled or timed-out request is never taken as the answer to
the next one; callers still check the address and checksum of every answer. Each attempt runs
under ``asyncio.timeout(timeout_s)`` and a timed-out attempt is retried ``retries`` times.
The port is opened lazily; if it goes away (a simulator's pty closes) it is reopened by a later
call, no earlier than the backoff allows (``health.Backoff``); inside the window calls fail
fast with CommError.
"""

from __future__ import annotations

import asyncio
import contextlib
import termios
import time

import serial_asyncio_fast

from drivers.endpoint import SerialEndpoint
from drivers.errors import CommError, ProtocolError
from drivers.health import Backoff, BusHealth

_MAX_LINE_BYTES = 256
_CLOSE_TIMEOUT_S = 1.0


class _LineProtocol(asyncio.Protocol):
    """Buffers received bytes; wakes the reader; notes when the port goes away."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.data_event = asyncio.Event()
        self.lost_at_s: float | None = None
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self.data_event.set()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost_at_s = time.monotonic()
        self.data_event.set()
        if not self.closed.done():
            self.closed.set_result(None)


class _Link:
    """One open port: transport plus protocol."""

    def __init__(self, transport: asyncio.Transport, protocol: _LineProtocol) -> None:
        self.transport = transport
        self.protocol = protocol

    @property
    def alive(self) -> bool:
        return self.protocol.lost_at_s is None and not self.transport.is_closing()

    def discard_input(self) -> None:
        """Drop every byte received so far, ours and the OS's (tcflush does not block)."""
        self.protocol.buffer.clear()
        self.protocol.data_event.clear()
        port = self.transport.get_extra_info("serial")
        if port is None or not self.alive:
            raise _PortLostError
        try:
            port.reset_input_buffer()
        except (OSError, termios.error) as exc:
            raise _PortLostError from exc

    def send(self, request: bytes) -> None:
        """Queue ``request`` (written at once if the port takes it)."""
        if not self.alive:
            raise _PortLostError
        self.transport.write(request)

    async def read_line(self, terminator: bytes) -> bytes:
        """Wait (caller's deadline) for one line; ProtocolError on an overlong line."""
        proto = self.protocol
        while True:
            end = proto.buffer.find(terminator)
            if end >= 0:
                end += len(terminator)
                line = bytes(proto.buffer[:end])
                del proto.buffer[:end]
                return line
            if len(proto.buffer) > _MAX_LINE_BYTES:
                garbage = bytes(proto.buffer[:32])
                proto.buffer.clear()
                raise _LineTooLongError(garbage)
            if proto.lost_at_s is not None:
                raise _PortLostError
            proto.data_event.clear()
            await proto.data_event.wait()


class _PortLostError(Exception):
    """The port went away while waiting for an answer."""


class _LineTooLongError(Exception):
    """Bytes kept coming without a terminator."""


class SerialLine:
    """Lock, deadlines, retries, stale-input flush and reopen backoff for one serial line."""

    def __init__(
        self,
        endpoint: SerialEndpoint,
        *,
        name: str,
        timeout_s: float = 0.1,
        retries: int = 2,
        backoff_initial_s: float = 0.1,
        backoff_max_s: float = 5.0,
        connect_timeout_s: float = 1.0,
    ) -> None:
        if timeout_s <= 0 or retries < 0 or connect_timeout_s <= 0:
            raise ValueError("need timeout_s > 0, retries >= 0, connect_timeout_s > 0")
        self._endpoint = endpoint
        self._name = name
        self._timeout_s = timeout_s
        self._retries = retries
        self._connect_timeout_s = connect_timeout_s
        self._backoff = Backoff(backoff_initial_s, backoff_max_s)
        self._lock = asyncio.Lock()
        self._link: _Link | None = None
        self._closed = False
        self._failures = 0
        self._last_error: str | None = None

    @property
    def name(self) -> str:
        """The line name (errors raised here carry it as ``device``)."""
        return self._name

    @property
    def endpoint(self) -> SerialEndpoint:
        """The port this line opens."""
        return self._endpoint

    @property
    def health(self) -> BusHealth:
        """Port state, consecutive failed calls, last error text."""
        return BusHealth(
            connected=self._link is not None and self._link.alive,
            consecutive_failures=self._failures,
            last_error=self._last_error,
        )

    async def connect(self) -> None:
        """Open the port now (ignoring any backoff window); CommError after the deadline."""
        async with self._lock:
            self._closed = False
            if self._link is not None and self._link.alive:
                return
            self._backoff.allow_now()
            try:
                await self._ensure_link()
            except CommError as exc:
                self._call_failed(exc)
                raise

    async def close(self) -> None:
        """Close the port; calls fail with CommError until ``connect()``."""
        self._closed = True
        link, self._link = self._link, None
        if link is not None:
            await _shut(link)

    async def transact(self, request: bytes, *, terminator: bytes = b"\n") -> bytes:
        """Send ``request`` and return the first answer line, terminator included."""
        if not terminator:
            raise ValueError("terminator must not be empty")
        async with self._lock:
            try:
                line = await self._attempts(request, terminator)
            except CommError as exc:
                self._call_failed(exc)
                raise
            except ProtocolError as exc:
                self._last_error = exc.message
                raise
            self._failures = 0
            self._backoff.answered()
            return line

    async def _attempts(self, request: bytes, terminator: bytes) -> bytes:
        link = await self._ensure_link()
        for _attempt in range(self._retries + 1):
            try:
                link.discard_input()
                link.send(request)
                async with asyncio.timeout(self._timeout_s):
                    return await link.read_line(terminator)
            except TimeoutError:
                continue
            except _PortLostError:
                await self._drop_link(link)
                raise self._comm(f"{request!r}: port lost") from None
            except _LineTooLongError as exc:
                raise ProtocolError(
                    f"{request!r}: no {terminator!r} within {_MAX_LINE_BYTES} bytes "
                    f"(starts {exc.args[0]!r})",
                    device=self._name,
                ) from None
        raise self._comm(
            f"{request!r}: no answer within {self._timeout_s} s ({self._retries + 1} attempts)"
        )

    async def _ensure_link(self) -> _Link:
        if self._closed:
            raise self._comm("line closed")
        if self._link is not None:
            if self._link.alive:
                return self._link
            await self._drop_link(self._link)
        wait_s = self._backoff.remaining_s()
        if wait_s > 0:
            raise self._comm(f"port down ({self._last_error}); next open attempt in {wait_s:.2f} s")
        link = await self._open()
        self._link = link
        return link

    async def _open(self) -> _Link:
        ep = self._endpoint
        loop = asyncio.get_running_loop()
        protocol = _LineProtocol()
        try:
            async with asyncio.timeout(self._connect_timeout_s):
                transport, _ = await serial_asyncio_fast.create_serial_connection(
                    loop, lambda: protocol, ep.path, baudrate=ep.baudrate
                )
        except (OSError, ValueError, TimeoutError, termios.error) as exc:
            self._backoff.link_failed()
            reason = "timed out" if isinstance(exc, TimeoutError) else str(exc)
            raise self._comm(f"cannot open {ep.path}: {reason}") from exc
        return _Link(transport, protocol)

    async def _drop_link(self, link: _Link) -> None:
        if self._link is link:
            self._link = None
        self._last_error = "port lost"
        self._backoff.link_failed(link.protocol.lost_at_s)
        await _shut(link)

    def _call_failed(self, exc: CommError) -> None:
        self._failures += 1
        self._last_error = exc.message

    def _comm(self, message: str) -> CommError:
        return CommError(message, device=self._name)


async def _shut(link: _Link) -> None:
    """Abort the transport and wait (bounded) until the port is really closed."""
    if not link.transport.is_closing():
        link.transport.abort()  # abort, not close: no tcdrain on a port that may be gone
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(_CLOSE_TIMEOUT_S):
            await asyncio.shield(link.protocol.closed)
