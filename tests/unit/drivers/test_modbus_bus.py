"""ModbusBus against a raw asyncio TCP server: deadlines, retries, backoff, errors, lock."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from pymodbus.client import AsyncModbusTcpClient

from drivers import modbus_bus
from drivers.endpoint import TcpEndpoint
from drivers.errors import CommError, ProtocolError
from drivers.modbus_bus import ModbusBus

from .conftest import RawModbusServer, Responder, exception_answer, free_port, registers_answer

ServerFactory = Callable[[Responder], Awaitable[RawModbusServer]]


def _bus(
    port: int,
    *,
    timeout_s: float = 0.05,
    retries: int = 2,
    backoff_initial_s: float = 0.1,
    backoff_max_s: float = 5.0,
) -> ModbusBus:
    return ModbusBus(
        TcpEndpoint("127.0.0.1", port),
        name="test-bus",
        timeout_s=timeout_s,
        retries=retries,
        backoff_initial_s=backoff_initial_s,
        backoff_max_s=backoff_max_s,
    )


class ConnectAttempts:
    """Counts the TCP connect attempts of every ModbusBus in the test."""

    def __init__(self) -> None:
        self.n = 0


@pytest.fixture
def connect_attempts(monkeypatch: pytest.MonkeyPatch) -> ConnectAttempts:
    attempts = ConnectAttempts()

    class CountingClient(AsyncModbusTcpClient):
        async def connect(self) -> bool:
            attempts.n += 1
            return await super().connect()

    monkeypatch.setattr(modbus_bus, "AsyncModbusTcpClient", CountingClient)
    return attempts


async def _wait_for(predicate: Callable[[], bool], timeout_s: float = 1.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not predicate():
            await asyncio.sleep(0.005)


async def test_round_trip(modbus_server: ServerFactory) -> None:
    server = await modbus_server(lambda r: registers_answer(r, [r[6], 42]))
    bus = _bus(server.port)
    try:
        assert await bus.read_holding_registers(7, 10, 2) == [7, 42]
        assert bus.health.connected
        assert bus.health.consecutive_failures == 0
    finally:
        await bus.close()
    assert not bus.health.connected


async def test_silent_server_gives_comm_error_after_all_attempts(
    modbus_server: ServerFactory,
) -> None:
    server = await modbus_server(lambda r: None)
    bus = _bus(server.port, timeout_s=0.05, retries=2)
    await bus.connect()
    try:
        with pytest.raises(CommError, match=r"no answer within 0.05 s \(3 attempts\)") as info:
            await bus.read_input_registers(2, 0, 9)
    finally:
        await bus.close()
    assert info.value.device == "test-bus"
    assert len(server.requests) == 3
    assert len({r[:2] for r in server.requests}) == 3  # a new transaction id per attempt
    assert bus.health.consecutive_failures == 1
    assert bus.health.last_error is not None
    assert "no answer" in bus.health.last_error


async def test_link_dropped_after_consecutive_unanswered_calls(
    modbus_server: ServerFactory,
) -> None:
    server = await modbus_server(lambda r: None)
    bus = ModbusBus(
        TcpEndpoint("127.0.0.1", server.port),
        name="b",
        timeout_s=0.02,
        retries=0,
        drop_after_failures=2,
    )
    try:
        with pytest.raises(CommError):
            await bus.read_coils(1, 0, 1)
        assert bus.health.connected
        with pytest.raises(CommError):
            await bus.read_coils(1, 0, 1)
        assert not bus.health.connected
        with pytest.raises(CommError, match="next connect attempt"):
            await bus.read_coils(1, 0, 1)
        assert bus.health.consecutive_failures == 3
    finally:
        await bus.close()


async def test_exception_response_is_protocol_error_not_retried(
    modbus_server: ServerFactory,
) -> None:
    server = await modbus_server(lambda r: exception_answer(r, 2))
    bus = _bus(server.port)
    try:
        with pytest.raises(ProtocolError, match="exception code 2"):
            await bus.write_register(2, 6, 3)
        assert len(server.requests) == 1
        assert bus.health.connected
        assert bus.health.consecutive_failures == 0
    finally:
        await bus.close()


async def test_connect_refused_then_fail_fast_inside_backoff(
    connect_attempts: ConnectAttempts,
) -> None:
    bus = _bus(free_port(), backoff_initial_s=0.2, backoff_max_s=0.5)
    with pytest.raises(CommError, match="cannot connect"):
        await bus.connect()
    assert connect_attempts.n == 1
    with pytest.raises(CommError, match="next connect attempt"):
        await bus.read_input_registers(1, 0, 1)
    assert connect_attempts.n == 1  # refused inside the window without a connect attempt
    await asyncio.sleep(0.22)
    with pytest.raises(CommError, match="cannot connect"):  # window over: a real attempt
        await bus.read_input_registers(1, 0, 1)
    assert connect_attempts.n == 2
    assert bus._backoff.delay_s == 0.5  # 0.2 -> 0.4 -> capped at 0.5
    with pytest.raises(CommError, match=r"next connect attempt in 0\.[0-4]\d s"):  # <= 0.4 s
        await bus.read_input_registers(1, 0, 1)
    assert connect_attempts.n == 2
    await bus.close()


async def test_reconnects_after_server_restart(
    modbus_server: ServerFactory, connect_attempts: ConnectAttempts
) -> None:
    server = await modbus_server(lambda r: registers_answer(r, [1]))
    port = server.port
    bus = _bus(port, backoff_initial_s=0.15)
    try:
        assert await bus.read_input_registers(1, 0, 1) == [1]
        await server.stop()
        await _wait_for(lambda: not bus.health.connected)
        assert connect_attempts.n == 1
        with pytest.raises(CommError, match="next connect attempt"):  # inside the window
            await bus.read_input_registers(1, 0, 1)
        assert connect_attempts.n == 1  # refused without a connect attempt
        await server.start(port)
        connections = server.connections
        await asyncio.sleep(0.16)
        assert await bus.read_input_registers(1, 0, 1) == [1]
        assert server.connections == connections + 1
        assert connect_attempts.n == 2
        assert bus.health == bus.health.__class__(True, 0, bus.health.last_error)
    finally:
        await bus.close()


async def test_lazy_first_connect_and_closed_bus(modbus_server: ServerFactory) -> None:
    server = await modbus_server(lambda r: registers_answer(r, [5]))
    bus = _bus(server.port)
    assert await bus.read_input_registers(1, 0, 1) == [5]
    await bus.close()
    with pytest.raises(CommError, match="closed"):
        await bus.read_input_registers(1, 0, 1)
    await bus.connect()
    assert await bus.read_input_registers(1, 0, 1) == [5]
    await bus.close()


async def test_late_answer_is_not_taken_for_the_retry(modbus_server: ServerFactory) -> None:
    # the first answer comes after the first attempt's deadline (0.2 s) and well inside the
    # retry's (0.4 s): the same-loop server may read a request up to 0.1 s late
    answers = iter([(0.3, 111), (0.0, 222)])

    async def respond(request: bytes) -> bytes:
        delay_s, value = next(answers)
        await asyncio.sleep(delay_s)
        return registers_answer(request, [value])

    server = await modbus_server(respond)
    bus = _bus(server.port, timeout_s=0.2, retries=1)
    try:
        assert await bus.read_holding_registers(1, 0, 1) == [222]
    finally:
        await bus.close()
    assert len(server.requests) == 2


async def test_cancelled_call_does_not_desynchronise(modbus_server: ServerFactory) -> None:
    values = iter([111, 222])
    release = asyncio.Event()

    async def respond(request: bytes) -> bytes:
        value = next(values)
        if value == 111:
            await release.wait()  # answered only once its caller has given up
        return registers_answer(request, [value])

    server = await modbus_server(respond)
    bus = _bus(server.port, timeout_s=0.5)
    try:
        first = asyncio.create_task(bus.read_holding_registers(1, 0, 1))
        await _wait_for(lambda: len(server.requests) == 1)  # the request is on the wire
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        release.set()  # the late answer to the cancelled call
        assert await bus.read_holding_registers(1, 0, 1) == [222]
    finally:
        await bus.close()
    assert len(server.requests) == 2


async def test_lock_serialises_concurrent_callers(modbus_server: ServerFactory) -> None:
    in_flight = 0
    max_in_flight = 0

    async def respond(request: bytes) -> bytes:
        nonlocal in_flight, max_in_flight
        in_flight += 1
        max_in_flight = max(max_in_flight, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return registers_answer(request, [request[6]])

    server = await modbus_server(respond)
    bus = _bus(server.port, timeout_s=0.5)
    try:
        async with asyncio.TaskGroup() as tg:
            tasks = [tg.create_task(bus.read_input_registers(d, 0, 1)) for d in range(1, 7)]
    finally:
        await bus.close()
    assert [t.result() for t in tasks] == [[d] for d in range(1, 7)]
    assert max_in_flight == 1
    assert server.connections == 1


async def test_bits_are_trimmed_to_count(modbus_server: ServerFactory) -> None:
    def respond(request: bytes) -> bytes:
        payload = bytes([request[7], 3, 0x02, 0x00, 0xFF])
        return request[:4] + b"\x00\x06" + request[6:7] + payload

    server = await modbus_server(respond)
    bus = _bus(server.port)
    try:
        bits = await bus.read_discrete_inputs(1, 0, 18)
    finally:
        await bus.close()
    assert bits == [False, True] + [False] * 14 + [True, True]


async def test_short_register_answer_is_protocol_error(modbus_server: ServerFactory) -> None:
    server = await modbus_server(lambda r: registers_answer(r, [1]))
    bus = _bus(server.port)
    try:
        with pytest.raises(ProtocolError, match="asked for 9"):
            await bus.read_input_registers(2, 0, 9)
    finally:
        await bus.close()


async def test_argument_validation() -> None:
    bus = _bus(free_port())
    with pytest.raises(ValueError, match="device id"):
        await bus.read_coils(0, 0, 1)
    with pytest.raises(ValueError, match="uint16"):
        await bus.write_registers(1, 0, [70000])
    with pytest.raises(ValueError, match="range"):
        await bus.read_holding_registers(1, 0, 200)


async def test_answer_with_another_function_code_is_protocol_error(
    modbus_server: ServerFactory,
) -> None:
    def respond(request: bytes) -> bytes:
        return registers_answer(request[:7] + b"\x03" + request[8:], [1])

    server = await modbus_server(respond)
    bus = _bus(server.port)
    try:
        with pytest.raises(ProtocolError, match="function code 3"):
            await bus.read_input_registers(1, 0, 1)
    finally:
        await bus.close()
