"""Composition root: buses -> drivers -> subsystems -> MQTT edge, under one root TaskGroup."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from datetime import UTC, datetime
from typing import Any

import structlog

from calibd import __version__
from calibd.config import Settings
from calibd.core.dispatcher import Dispatcher
from calibd.core.outbox import Outbox
from calibd.core.subsystem import Subsystem
from calibd.core.timefmt import iso
from calibd.mqtt import MqttEdge
from calibd.state import next_session
from calibd.subsystems.acu import Acu
from calibd.subsystems.acu_axes import AcuAxes
from calibd.subsystems.house import House
from calibd.systemd import sd_notify, watchdog_interval_s
from drivers.base import Drive, ForceSensor
from drivers.endpoint import SerialEndpoint, TcpEndpoint, parse_endpoint
from drivers.errors import DriverError
from drivers.io_module import IoModule
from drivers.load_cell import LoadCell
from drivers.modbus_bus import ModbusBus
from drivers.serial_line import SerialLine
from drivers.stepper import StepperDrive

log = structlog.get_logger("calibd.app")


class Buses:
    """One owner per bus: every device on an endpoint shares its ModbusBus / SerialLine."""

    def __init__(self) -> None:
        self.modbus: dict[TcpEndpoint, ModbusBus] = {}
        self.serial: dict[SerialEndpoint, SerialLine] = {}

    def modbus_bus(self, endpoint: str) -> ModbusBus:
        ep = parse_endpoint(endpoint)
        assert isinstance(ep, TcpEndpoint)
        if ep not in self.modbus:
            self.modbus[ep] = ModbusBus(ep, name=f"modbus {ep.host}:{ep.port}")
        return self.modbus[ep]

    def serial_line(self, endpoint: str) -> SerialLine:
        ep = parse_endpoint(endpoint)
        assert isinstance(ep, SerialEndpoint)
        if ep not in self.serial:
            self.serial[ep] = SerialLine(ep, name=f"serial {ep.path}")
        return self.serial[ep]

    def all(self) -> list[ModbusBus | SerialLine]:
        return [*self.modbus.values(), *self.serial.values()]

    async def connect_all(self) -> None:
        """Try every bus once; a bus that is down is retried lazily by its next request."""
        for bus in self.all():
            try:
                await bus.connect()
            except DriverError as exc:
                log.error("bus_connect_failed", bus=bus.name, error=str(exc))

    async def close_all(self) -> None:
        for bus in self.all():
            with contextlib.suppress(DriverError, OSError):
                await bus.close()


def build(settings: Settings, buses: Buses, outbox: Outbox) -> dict[str, Subsystem]:
    ts = settings.sim.time_scale
    house_cfg = settings.house
    io = IoModule(buses.modbus_bus(house_cfg.io.endpoint), house_cfg.io.device_id, name="house-io")
    house = House(house_cfg, io, outbox, time_scale=ts)

    acu_cfg = settings.acu
    tt = acu_cfg.turntable
    turntable = StepperDrive(
        buses.modbus_bus(tt.endpoint),
        tt.device_id,
        name="acu-turntable",
        counts_per_rev=tt.counts_per_rev * tt.gear_ratio,
    )
    units: dict[str, tuple[Drive, ForceSensor]] = {}
    for u in acu_cfg.units:
        spool = acu_cfg.spool_of(u.name)
        drive = StepperDrive(
            buses.modbus_bus(u.drive.endpoint),
            u.drive.device_id,
            name=f"acu-spool-{u.name}",
            counts_per_rev=spool.counts_per_rev,
        )
        cell = LoadCell(
            buses.serial_line(u.load_cell.endpoint),
            u.load_cell.address,
            name=f"acu-load-{u.name}",
        )
        units[u.name] = (drive, cell)
    axes = AcuAxes(acu_cfg, turntable, units)
    acu = Acu(acu_cfg, axes, house, outbox, time_scale=ts)
    return {"acu": acu, "house": house}


async def _watchdog(edge: MqttEdge) -> None:
    interval_s = watchdog_interval_s()
    if interval_s is None:
        return
    while True:
        sd_notify("WATCHDOG=1", f"STATUS=mqtt {'up' if edge.connected.is_set() else 'down'}")
        await asyncio.sleep(interval_s)


async def run_daemon(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM (or cancellation); drives are stopped on the way out."""
    session = await asyncio.to_thread(next_session, settings.state.dir)
    started_at = iso(datetime.now(UTC))
    outbox = Outbox(settings.mqtt.outbound_queue)
    buses = Buses()
    subsystems = build(settings, buses, outbox)
    dispatcher = Dispatcher(subsystems, outbox)
    birth: dict[str, Any] = {"version": __version__, "session": session, "started_at": started_at}
    edge = MqttEdge(settings.mqtt, outbox, dispatcher.handle, birth=birth)
    structlog.contextvars.bind_contextvars(session=session)
    log.info("starting", version=__version__, session=session, time_scale=settings.sim.time_scale)

    main = asyncio.current_task()
    loop = asyncio.get_running_loop()
    assert main is not None

    def on_signal() -> None:
        sd_notify("STOPPING=1")
        main.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    try:
        await buses.connect_all()
        async with asyncio.TaskGroup() as tg:
            for name, sub in subsystems.items():
                tg.create_task(sub.run(), name=f"subsystem:{name}")
            tg.create_task(edge.run(), name="mqtt")
            tg.create_task(_watchdog(edge), name="watchdog")
            sd_notify("READY=1", f"STATUS=session {session}")
            log.info("ready", subsystems=sorted(subsystems))
    except asyncio.CancelledError:
        log.info("stopping")
        raise
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await buses.close_all()
        log.info("stopped")
