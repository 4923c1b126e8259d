"""The one owner of a Modbus TCP endpoint, shared by every device behind it.

Link policy (see ``health.Backoff``): the link is opened lazily by the first call (or by
``connect()``). A failed connect or a lost link schedules the next connect attempt after the
backoff delay; calls inside that window fail fast with CommError, without I/O or sleeping.
After ``drop_after_failures`` consecutive unanswered calls the link is dropped too (a
half-open TCP connection would otherwise never recover). Each attempt runs under
``asyncio.timeout(timeout_s)``; a timed-out attempt is retried ``retries`` times on the same
link (pymodbus gives every request a new transaction id and skips stale answers).
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from pymodbus import FramerType
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException
from pymodbus.pdu import ModbusPDU

from drivers.aio import cancel_safe
from drivers.endpoint import TcpEndpoint
from drivers.errors import CommError, ProtocolError
from drivers.health import Backoff, BusHealth
from drivers.modbus_requests import ModbusRequests, Request

_PYMODBUS_MARGIN_S = 1.0  # pymodbus's own timers stay longer than ours, so ours govern


class ModbusBus(ModbusRequests):
    """Lock, deadlines, retries and reconnect backoff for one Modbus TCP endpoint."""

    def __init__(
        self,
        endpoint: TcpEndpoint,
        *,
        name: str,
        timeout_s: float = 0.2,
        retries: int = 2,
        backoff_initial_s: float = 0.1,
        backoff_max_s: float = 5.0,
        connect_timeout_s: float | None = None,
        drop_after_failures: int = 3,
    ) -> None:
        if timeout_s <= 0 or retries < 0 or drop_after_failures < 1:
            raise ValueError("need timeout_s > 0, retries >= 0, drop_after_failures >= 1")
        self._endpoint = endpoint
        self._name = name
        self._timeout_s = timeout_s
        self._retries = retries
        self._connect_timeout_s = (
            timeout_s * (retries + 1) if connect_timeout_s is None else connect_timeout_s
        )
        self._drop_after_failures = drop_after_failures
        self._backoff = Backoff(backoff_initial_s, backoff_max_s)
        self._lock = asyncio.Lock()
        self._client: AsyncModbusTcpClient | None = None
        self._closed = False
        self._failures = 0
        self._last_error: str | None = None

    @property
    def name(self) -> str:
        """The bus name (errors raised here carry it as ``device``)."""
        return self._name

    @property
    def endpoint(self) -> TcpEndpoint:
        """Where this bus connects."""
        return self._endpoint

    @property
    def health(self) -> BusHealth:
        """Link state, consecutive failed calls, last error text."""
        return BusHealth(
            connected=self._client is not None,
            consecutive_failures=self._failures,
            last_error=self._last_error,
        )

    async def connect(self) -> None:
        """Open the link now (ignoring any backoff window); CommError after the deadline."""
        async with self._lock:
            self._closed = False
            if self._client is not None:
                return
            self._backoff.allow_now()
            try:
                await self._open()
            except CommError as exc:
                self._call_failed(exc)
                raise

    async def close(self) -> None:
        """Close the link; calls fail with CommError until ``connect()``."""
        self._closed = True
        self._drop_link()

    # -- one call: lock, link, attempts, bookkeeping ------------------------------------

    async def _call(
        self, device_id: int, function_code: int, what: str, request: Request
    ) -> ModbusPDU:
        async with self._lock:
            try:
                pdu = await self._attempts(device_id, function_code, what, request)
            except CommError as exc:
                self._call_failed(exc)
                if self._failures >= self._drop_after_failures and self._client is not None:
                    self._drop_link(f"{self._failures} calls in a row unanswered")
                raise
            except ProtocolError as exc:
                self._answered()
                self._last_error = exc.message
                raise
            self._answered()
            return pdu

    async def _attempts(
        self, device_id: int, function_code: int, what: str, request: Request
    ) -> ModbusPDU:
        client = await self._ensure_link()
        for _attempt in range(self._retries + 1):
            if self._client is not client:
                break  # the link went down during the previous attempt
            try:
                async with asyncio.timeout(self._timeout_s):
                    pdu = await cancel_safe(request(client))
            except TimeoutError:
                continue
            except ConnectionException as exc:
                self._drop_link(f"connection lost: {exc}")
                raise self._comm(f"device {device_id} {what}: connection lost") from exc
            except ModbusException as exc:
                raise ProtocolError(
                    f"device {device_id} {what}: bad answer: {exc}", device=self._name
                ) from exc
            if pdu.isError():
                code = getattr(pdu, "exception_code", 0)
                raise ProtocolError(
                    f"device {device_id} {what}: Modbus exception code {code}", device=self._name
                )
            if pdu.function_code != function_code:
                raise ProtocolError(
                    f"device {device_id} {what}: answer has function code {pdu.function_code}",
                    device=self._name,
                )
            return pdu
        if self._client is not client:
            raise self._comm(f"device {device_id} {what}: connection lost")
        raise self._comm(
            f"device {device_id} {what}: no answer within {self._timeout_s} s "
            f"({self._retries + 1} attempts)"
        )

    async def _ensure_link(self) -> AsyncModbusTcpClient:
        if self._closed:
            raise self._comm("bus closed")
        if self._client is not None:
            return self._client
        wait_s = self._backoff.remaining_s()
        if wait_s > 0:
            raise self._comm(
                f"link down ({self._last_error}); next connect attempt in {wait_s:.2f} s"
            )
        return await self._open()

    async def _open(self) -> AsyncModbusTcpClient:
        """One connect attempt under the connect deadline."""
        ep = self._endpoint

        def on_link(up: bool) -> None:
            if not up and self._client is client:
                self._drop_link("connection lost", at_s=time.monotonic())

        client = AsyncModbusTcpClient(
            ep.host,
            port=ep.port,
            framer=FramerType.SOCKET,
            name=self._name,
            timeout=max(self._timeout_s, self._connect_timeout_s) + _PYMODBUS_MARGIN_S,
            retries=0,  # retries are ours
            reconnect_delay=0,  # no pymodbus reconnect task: reconnects are ours, lazy
            trace_connect=on_link,
        )
        connected = False
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._connect_timeout_s):
                    # pymodbus connects through asyncio.wait_for: a cancel arriving with the
                    # connection is lost on 3.11 (drivers/aio.py); cancel_safe raises it, and
                    # our own deadline's cancel becomes TimeoutError here as before
                    connected = await cancel_safe(client.connect())
        finally:
            if not connected:
                client.close()
        if not connected:
            self._backoff.link_failed()
            raise self._comm(
                f"cannot connect to {ep} (refused, or no answer within {self._connect_timeout_s} s)"
            )
        self._client = client
        return client

    def _drop_link(self, reason: str | None = None, *, at_s: float | None = None) -> None:
        client, self._client = self._client, None
        if client is None:
            return
        client.close()
        if reason is not None:
            self._last_error = reason
            self._backoff.link_failed(at_s)

    def _answered(self) -> None:
        self._failures = 0
        self._backoff.answered()

    def _call_failed(self, exc: CommError) -> None:
        self._failures += 1
        self._last_error = exc.message

    def _comm(self, message: str) -> CommError:
        return CommError(message, device=self._name)
