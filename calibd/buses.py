"""One owner per bus: every device on an endpoint shares its ModbusBus / SerialLine."""

from __future__ import annotations

import contextlib

import structlog

from drivers.endpoint import SerialEndpoint, TcpEndpoint, parse_endpoint
from drivers.errors import DriverError
from drivers.modbus_bus import ModbusBus
from drivers.serial_line import SerialLine

log = structlog.get_logger("calibd.buses", subsystem="daemon")


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
