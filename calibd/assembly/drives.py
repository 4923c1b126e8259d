"""Every system's stepper drives, built one way: on their endpoint's bus, with the drive's own
communication watchdog set to `[interlocks] drive_watchdog_s` of wall time (the drive counts in
its own time: x `[sim] time_scale`, 1 on real hardware)."""

from __future__ import annotations

from calibd.buses import Buses
from calibd.config import Settings
from drivers.stepper import StepperDrive


def stepper(
    buses: Buses,
    settings: Settings,
    endpoint: str,
    device_id: int,
    *,
    name: str,
    counts_per_rev: float,
) -> StepperDrive:
    """The drive `device_id` on the Modbus bus of `endpoint`."""
    return StepperDrive(
        buses.modbus_bus(endpoint),
        device_id,
        name=name,
        counts_per_rev=counts_per_rev,
        comm_timeout_s=settings.interlocks.drive_watchdog_s * settings.sim.time_scale,
    )
