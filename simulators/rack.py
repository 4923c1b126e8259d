"""The rack: every configured device served on its real transport, plus faults, truth and MQTT."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import defaultdict, deque
from collections.abc import Callable
from contextlib import AsyncExitStack
from types import TracebackType

from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import SimDevice

from simulators.acu import Acu
from simulators.clock import Clock, SimClock
from simulators.config import (
    ConfigError,
    Endpoint,
    SimConfig,
    TcpEndpoint,
    parse_endpoint,
)
from simulators.faults import (
    IO_FAULTS,
    ONE_SHOT_FAULTS,
    SILENT_FAULT,
    FaultBoard,
    FaultError,
    iso_now,
)
from simulators.io_module import IoModule, io_device
from simulators.modbus_front import silent_catch_all
from simulators.mqtt_link import MqttLink
from simulators.pty_link import PtyLine
from simulators.system import LineHandler, SimSystem
from simulators.systems import build_systems

log = logging.getLogger(__name__)

TICK_S = 0.01
TRUTH_PERIOD_S = 0.25
SERVER_TIMEOUT_S = 5.0
EVENT_HISTORY = 1000


class Rack:
    """``async with Rack(cfg) as rack:`` serves everything until the block exits."""

    def __init__(self, cfg: SimConfig, *, clock: Clock | None = None, mqtt: bool = True) -> None:
        self.cfg = cfg
        self.clock = clock or SimClock(cfg.sim.time_scale)
        self.root = cfg.mqtt.topic_root
        t_s = self.clock.now_s()
        sim = cfg.sim
        self.house = (
            IoModule(
                cfg.house.valves,
                sim.valve_travel_s,
                sim.o2_ppm,
                sim.radon_mbq_m3,
                random.Random(f"{sim.seed}/house"),
                t_s,
            )
            if cfg.house.io
            else None
        )
        self.systems: dict[str, SimSystem] = {
            system.name: system for system in build_systems(cfg, self._valve_open, t_s)
        }
        for system in self.systems.values():
            for axis, drive in system.drives().items():
                drive.on_command = self._command_hook(system.name, axis)
        self.faults = FaultBoard(self._fault_axes())
        self.link = MqttLink(cfg.mqtt, self._on_fault_message) if mqtt else None
        self._events: deque[dict[str, object]] = deque(maxlen=EVENT_HISTORY)
        self._stack: AsyncExitStack | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.ttys: dict[str, str] = {}

    # -- wiring ------------------------------------------------------------------------------
    @property
    def acu(self) -> Acu | None:
        """The ACU, if configured (tests and demos look at its truth directly)."""
        acu = self.systems.get("acu")
        return acu if isinstance(acu, Acu) else None

    def _fault_axes(self) -> dict[str, dict[str, frozenset[str]]]:
        axes = {name: system.fault_axes() for name, system in self.systems.items()}
        if self.house:
            axes["house"] = {"io": IO_FAULTS}
        return axes

    def _valve_open(self, valve: str | None, t_s: float) -> bool:
        """Whether the named gate valve lets a source through (no valve: always)."""
        if valve is None or self.house is None:
            return True
        return self.house.valve_open(self.cfg.house.valves[valve], t_s)

    def _silent(self, system: str, axis: str) -> Callable[[], bool]:
        return lambda: self.faults.is_active(system, axis, SILENT_FAULT)

    def _command_hook(self, system: str, axis: str) -> Callable[[str], None]:
        def hook(command: str) -> None:
            for event in self.faults.on_command(system, axis, command, time.monotonic()):
                self._emit(system, event)

        return hook

    def _endpoints(
        self,
    ) -> tuple[dict[TcpEndpoint, list[SimDevice]], dict[str, LineHandler]]:
        tcp: dict[TcpEndpoint, list[SimDevice]] = defaultdict(list)
        serial: dict[str, LineHandler] = {}

        def need_tcp(text: str) -> TcpEndpoint:
            ep: Endpoint = parse_endpoint(text)
            if not isinstance(ep, TcpEndpoint):
                raise ConfigError(f"{text}: a Modbus device needs a tcp:// endpoint")
            return ep

        if self.house and self.cfg.house.io:
            io_cfg = self.cfg.house.io
            tcp[need_tcp(io_cfg.endpoint)].append(
                io_device(io_cfg.device_id, self.house, self.clock, self._silent("house", "io"))
            )
        for name, system in self.systems.items():

            def silent(axis: str, system_name: str = name) -> Callable[[], bool]:
                return self._silent(system_name, axis)

            for endpoint, device in system.modbus_devices(self.clock, silent):
                tcp[need_tcp(endpoint)].append(device)
            for path, handler in system.serial_lines(self.clock, silent).items():
                if path in serial:
                    raise ConfigError(f"serial line {path} is used by two systems")
                serial[path] = handler
        for ep, devices in tcp.items():
            ids = [d.id for d in devices]
            if len(ids) != len(set(ids)):
                raise ConfigError(f"tcp://{ep.host}:{ep.port}: duplicate device ids {ids}")
        return tcp, serial

    # -- lifecycle ---------------------------------------------------------------------------
    async def __aenter__(self) -> Rack:
        stack = AsyncExitStack()
        try:
            tcp, serial = self._endpoints()
            for ep, devices in tcp.items():
                server = ModbusTcpServer(
                    [*devices, silent_catch_all()],
                    address=(ep.host, ep.port),
                    ignore_missing_devices=True,
                )
                async with asyncio.timeout(SERVER_TIMEOUT_S):
                    await server.serve_forever(background=True)
                stack.push_async_callback(self._close_server, server)
                log.info("modbus tcp://%s:%s devices %s", ep.host, ep.port, [d.id for d in devices])
            for path, handler in serial.items():
                line = PtyLine(path, handler)
                line.open()
                stack.callback(line.close)
                self.ttys[path] = line.tty_name
            tg = await stack.enter_async_context(asyncio.TaskGroup())
            self._tasks = [tg.create_task(self._tick_loop(), name="calibsim.tick")]
            if self.link:
                self._tasks.append(tg.create_task(self.link.run(), name="calibsim.mqtt"))
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        for task in self._tasks:
            task.cancel()
        stack, self._stack = self._stack, None
        if stack is None:
            return False
        return bool(await stack.__aexit__(exc_type, exc, tb))

    @staticmethod
    async def _close_server(server: ModbusTcpServer) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(SERVER_TIMEOUT_S):
                await server.shutdown()  # type: ignore[no-untyped-call]

    async def run_forever(self) -> None:
        """Serve until cancelled."""
        async with self:
            await asyncio.Event().wait()

    async def _tick_loop(self) -> None:
        next_truth_s = 0.0
        while True:
            now_s = self.clock.now_s()
            stopped = False
            for system in self.systems.values():
                for drive in system.drives().values():
                    drive.advance(now_s)
                    stopped |= drive.pop_standstill()
                system.tick(now_s)
            wall_s = time.monotonic()
            if stopped or wall_s >= next_truth_s:
                self._publish_truth()
                next_truth_s = wall_s + TRUTH_PERIOD_S
            await asyncio.sleep(TICK_S)

    # -- truth and events --------------------------------------------------------------------
    def truth(self, system: str) -> dict[str, object]:
        """The true physical state of a system."""
        t_s = self.clock.now_s()
        if system in self.systems:
            return {"system": system, "ts": iso_now(), **self.systems[system].truth(t_s)}
        if system == "house" and self.house:
            return {"system": "house", "ts": iso_now(), **self.house.truth(t_s)}
        raise FaultError(f"unknown system {system!r}")

    def _publish_truth(self) -> None:
        if self.link is None or not self.link.connected:
            return
        for system in self.faults.axes:
            self.link.publish(f"{self.root}/sim/{system}/truth", self.truth(system), qos=0)

    @property
    def events(self) -> list[dict[str, object]]:
        """Events emitted so far (newest last, bounded history)."""
        return list(self._events)

    def _emit(self, system: str, event: dict[str, object]) -> None:
        self._events.append(event)
        log.info("event %s", event)
        if self.link:
            self.link.publish(f"{self.root}/sim/{system}/events", event, qos=1)

    # -- faults ------------------------------------------------------------------------------
    def inject(self, system: str, fault: str, axis: str | None = None) -> None:
        """Inject a fault (or ``clear``); raises FaultError for an unknown system/axis/fault."""
        t_s = self.clock.now_s()
        if fault == "clear":
            cleared = self.faults.clear(system, axis)
            for entry in cleared:
                self._apply(entry.system, entry.axis, entry.fault, False, t_s)
            pairs: list[tuple[str | None, str | None]] = [(e.axis, e.fault) for e in cleared]
            for cleared_axis, cleared_fault in pairs or [(axis, None)]:
                self._emit(
                    system,
                    {
                        "event": "fault_cleared",
                        "system": system,
                        "axis": cleared_axis,
                        "fault": cleared_fault,
                        "ts": iso_now(),
                    },
                )
            return
        axis = self.faults.resolve_axis(system, fault, axis)
        if self.faults.is_active(system, axis, fault):
            self._apply(system, axis, fault, False, t_s)
        self.faults.inject(system, fault, axis, time.monotonic())
        self._apply(system, axis, fault, True, t_s)
        event: dict[str, object] = {"event": "fault_injected", "system": system, "axis": axis}
        self._emit(system, event | {"fault": fault, "ts": iso_now()})
        if fault in ONE_SHOT_FAULTS:
            self._emit(system, {"event": fault, "system": system, "axis": axis, "ts": iso_now()})

    def _apply(self, system: str, axis: str, fault: str, active: bool, t_s: float) -> None:
        if fault == SILENT_FAULT:
            return
        if system in self.systems:
            self.systems[system].set_fault(axis, fault, active, t_s)
        elif system == "house" and self.house:
            if fault == "estop_button":
                self.house.estop_ok = not active
            elif fault == "o2_high":
                self.house.o2_high = active
            elif fault == "valve_stuck":
                for valve in self.house.valves.values():
                    valve.set_stuck(active, t_s)

    def _on_fault_message(self, system: str, payload: object, retained: bool) -> None:
        try:
            fault, axis = _parse_fault_message(payload, retained)
            self.inject(system, fault, axis)
        except FaultError as exc:
            self._emit_error(system, str(exc))
        except Exception as exc:
            log.exception("fault message on %s failed", system)
            self._emit_error(system, repr(exc))

    def _emit_error(self, system: str, message: str) -> None:
        self._emit(system, {"event": "error", "system": system, "error": message, "ts": iso_now()})


def _parse_fault_message(payload: object, retained: bool) -> tuple[str, str | None]:
    """``{"fault": ..., "axis": ...}`` → (fault, axis); FaultError when unusable."""
    if retained:
        raise FaultError("retained fault message ignored")
    if not isinstance(payload, dict):
        raise FaultError("fault message is not a JSON object")
    fault, axis = payload.get("fault"), payload.get("axis")
    if not isinstance(fault, str) or not isinstance(axis, str | None):
        raise FaultError("'fault' must be a string and 'axis' a string or absent")
    return fault, axis
