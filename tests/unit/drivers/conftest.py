"""In-test peers for the driver tests: a raw Modbus TCP server and a pty load-cell indicator.

Neither uses pymodbus or the simulators: they speak bytes, so the tests pin the wire format.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import tty
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import pytest


@pytest.fixture(autouse=True)
async def no_leaked_tasks() -> AsyncIterator[None]:
    """Fail a test that leaves tasks running on its loop (drivers own no background tasks)."""
    yield
    current = asyncio.current_task()
    for _ in range(5):  # let close callbacks finish their last step
        leaked = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
        if not leaked:
            return
        await asyncio.sleep(0)
    pytest.fail(f"tasks left running: {leaked}")


Responder = Callable[[bytes], "bytes | Awaitable[bytes | None] | None"]


class RawModbusServer:
    """Reads MBAP frames, records them, answers with whatever the responder returns."""

    def __init__(self, responder: Responder) -> None:
        self.responder = responder
        self.requests: list[bytes] = []
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()

    async def start(self, port: int = 0) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and drop every connection."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.close()
        handlers = list(self._handlers)
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(writer)
        self.connections += 1
        try:
            while True:
                header = await reader.readexactly(6)
                body = await reader.readexactly(int.from_bytes(header[4:6], "big"))
                frame = header + body
                self.requests.append(frame)
                answer = self.responder(frame)
                if inspect.isawaitable(answer):
                    answer = await answer
                if answer:
                    writer.write(answer)
                    await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._writers.discard(writer)
            self._handlers.discard(task)
            writer.close()


def exception_answer(request: bytes, code: int) -> bytes:
    """A Modbus exception response to ``request``."""
    return request[:4] + b"\x00\x03" + request[6:7] + bytes([request[7] | 0x80, code])


def registers_answer(request: bytes, values: list[int]) -> bytes:
    """An FC03/FC04 response carrying ``values``."""
    payload = bytes([request[7], 2 * len(values)]) + b"".join(v.to_bytes(2, "big") for v in values)
    return request[:4] + (len(payload) + 1).to_bytes(2, "big") + request[6:7] + payload


@pytest.fixture
async def modbus_server() -> AsyncIterator[Callable[[Responder], Awaitable[RawModbusServer]]]:
    """Factory: start a RawModbusServer on a free loopback port; all are stopped afterwards."""
    servers: list[RawModbusServer] = []

    async def start(responder: Responder) -> RawModbusServer:
        server = RawModbusServer(responder)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


def free_port() -> int:
    """A loopback port with nothing listening on it (bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


IndicatorAnswer = Callable[[bytes], "bytes | tuple[float, bytes] | None"]


class PtyIndicator:
    """Plays load-cell indicators on the master side of a pty pair (slave kept open)."""

    def __init__(self, answer: IndicatorAnswer) -> None:
        self.answer = answer
        self.requests: list[bytes] = []
        self._loop = asyncio.get_running_loop()
        self.master_fd, self.slave_fd = os.openpty()
        tty.setraw(self.slave_fd)
        os.set_blocking(self.master_fd, False)
        self.path = os.ttyname(self.slave_fd)
        self._buffer = b""
        self._later: list[asyncio.TimerHandle] = []
        self._closed = False
        self._loop.add_reader(self.master_fd, self._on_readable)

    def send(self, data: bytes) -> None:
        """Write raw bytes towards the driver."""
        if not self._closed:
            os.write(self.master_fd, data)

    def close(self) -> None:
        """Remove the pty (as a simulator restart does)."""
        if self._closed:
            return
        self._closed = True
        for handle in self._later:
            handle.cancel()
        self._loop.remove_reader(self.master_fd)
        os.close(self.master_fd)
        os.close(self.slave_fd)

    def _on_readable(self) -> None:
        try:
            self._buffer += os.read(self.master_fd, 1024)
        except BlockingIOError:
            return
        while b"\r" in self._buffer:
            request, self._buffer = self._buffer.split(b"\r", 1)
            request += b"\r"
            self.requests.append(request)
            reply = self.answer(request)
            if isinstance(reply, tuple):
                delay_s, data = reply
                self._later.append(self._loop.call_later(delay_s, self.send, data))
            elif reply:
                self.send(reply)


@pytest.fixture
def pty_indicator() -> Iterator[Callable[[IndicatorAnswer], PtyIndicator]]:
    """Factory: a PtyIndicator per call, all closed afterwards."""
    made: list[PtyIndicator] = []

    def make(answer: IndicatorAnswer) -> PtyIndicator:
        indicator = PtyIndicator(answer)
        made.append(indicator)
        return indicator

    yield make
    for indicator in made:
        with contextlib.suppress(OSError):
            indicator.close()
