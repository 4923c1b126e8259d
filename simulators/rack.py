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
    SerialEndpoint,
    SimConfig,
    TcpEndpoint,
    parse_endpoint,
)
from simulators.faults import (
    DRIVE_FAULTS,
    IO_FAULTS,
    SILENT_FAULT,
    SPOOL_FAULTS,
    FaultBoard,
    FaultError,
    iso_now,
)
from simulators.io_module import IoModule, io_device
from simulators.load_cell import LoadCell, LoadCellBus
from simulators.modbus_front import silent_catch_all
from simulators.mqtt_link import MqttLink
from simulators.pty_link import PtyLine
from simulators.stepper import drive_device

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
        self.acu = (
            Acu(cfg.acu, self._acu_valve_open, sim.seed, sim.tension_noise_n, t_s)
            if cfg.acu
            else None
        )
        if self.acu:
            for axis, drive in self.acu.drives().items():
                drive.on_command = self._command_hook("acu", axis)
        self.faults = FaultBoard(self._fault_axes())
        self.link = MqttLink(cfg.mqtt, self._on_fault_message) if mqtt else None
        self._events: deque[dict[str, object]] = deque(maxlen=EVENT_HISTORY)
        self._stack: AsyncExitStack | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.ttys: dict[str, str] = {}

    # -- wiring ------------------------------------------------------------------------------
    def _fault_axes(self) -> dict[str, dict[str, frozenset[str]]]:
        axes: dict[str, dict[str, frozenset[str]]] = {}
        if self.acu:
            axes["acu"] = {"turntable": DRIVE_FAULTS} | dict.fromkeys(self.acu.units, SPOOL_FAULTS)
        if self.house:
            axes["house"] = {"io": IO_FAULTS}
        return axes

    def _acu_valve_open(self, t_s: float) -> bool:
        valve = self.cfg.acu.valve if self.cfg.acu else None
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

    def _endpoints(self) -> tuple[dict[TcpEndpoint, list[SimDevice]], dict[str, list[LoadCell]]]:
        tcp: dict[TcpEndpoint, list[SimDevice]] = defaultdict(list)
        serial: dict[str, list[LoadCell]] = defaultdict(list)

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
        if self.acu and self.cfg.acu:
            tt = self.cfg.acu.turntable
            tcp[need_tcp(tt.endpoint)].append(
                drive_device(
                    tt.device_id, self.acu.turntable, self.clock, self._silent("acu", "turntable")
                )
            )
            for unit_cfg in self.cfg.acu.units:
                unit = self.acu.units[unit_cfg.name]
                silent = self._silent("acu", unit.name)
                tcp[need_tcp(unit_cfg.drive.endpoint)].append(
                    drive_device(unit_cfg.drive.device_id, unit.drive, self.clock, silent)
                )
                ep = parse_endpoint(unit_cfg.load_cell.endpoint)
                if not isinstance(ep, SerialEndpoint):
                    raise ConfigError(f"unit {unit.name}: load cell needs a serial:// endpoint")
                serial[ep.path].append(
                    unit.load_cell(unit_cfg.load_cell.address, self.clock.now_s, silent)
                )
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
            for path, cells in serial.items():
                line = PtyLine(path, LoadCellBus(cells).handle)
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
            if self.acu:
                for drive in self.acu.drives().values():
                    drive.advance(now_s)
                    stopped |= drive.pop_standstill()
                for unit in self.acu.units.values():
                    unit.state(now_s)
            wall_s = time.monotonic()
            if stopped or wall_s >= next_truth_s:
                self._publish_truth()
                next_truth_s = wall_s + TRUTH_PERIOD_S
            await asyncio.sleep(TICK_S)

    # -- truth and events --------------------------------------------------------------------
    def truth(self, system: str) -> dict[str, object]:
        """The true physical state of a system."""
        t_s = self.clock.now_s()
        if system == "acu" and self.acu:
            return {"system": "acu", "ts": iso_now(), **self.acu.truth(t_s)}
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

    def _apply(self, system: str, axis: str, fault: str, active: bool, t_s: float) -> None:
        if fault == SILENT_FAULT:
            return
        if system == "acu" and self.acu:
            self.acu.set_fault(axis, fault, active, t_s)
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
