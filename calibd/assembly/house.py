"""Build the calibration house on its IO module."""

from __future__ import annotations

from calibd.buses import Buses
from calibd.config import Settings
from calibd.core.outbox import Outbox
from calibd.subsystems.house import House
from drivers.io_module import IoModule


def build(settings: Settings, buses: Buses, outbox: Outbox) -> House:
    """The house subsystem."""
    cfg = settings.house
    io = IoModule(buses.modbus_bus(cfg.io.endpoint), cfg.io.device_id, name="house-io")
    return House(cfg, io, outbox, time_scale=settings.sim.time_scale)
