"""The axes of one system (`Axes`): one poll reads every device, fresh-data waits with their
deadlines, halt and alarm reset for all; plus the driver-call helpers motion sequences share.

The poll loop is the only reader: `Axes.poll()` reads every device once; once the protections
have judged the readings, `Axes.wake()` wakes the motion sequences that wait for fresh data
(`Axes.wait_poll`, `Axes.until`), so no sequence acts on readings that tripped.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import structlog

from calibd.core.axis import Axis
from calibd.core.errors import Trip
from calibd.core.fresh import FreshReadings, wait_fresh_until
from drivers.errors import CommError, DriverError

log = structlog.get_logger("calibd.axis")


def _subsystem_of(device: str) -> str:
    """The system a device belongs to: the first word of its name (`cls1-central`,
    `cls1-load-side`, `acu-turntable`: calibd/assembly names every device so)."""
    return device.split("-", 1)[0]


async def halt_axes(axes: Iterable[Axis]) -> None:
    """Quick-stop every drive at once, the moving ones first (a bus serves its drives in
    turn); a drive that does not answer is logged, not raised."""
    ordered = sorted(axes, key=lambda a: not (a.status is not None and a.status.moving))
    drives = [a.drive for a in ordered]
    results = await asyncio.gather(*(d.halt() for d in drives), return_exceptions=True)
    for d, res in zip(drives, results, strict=True):
        if isinstance(res, DriverError):
            log.error("halt_failed", subsystem=_subsystem_of(d.name), device=d.name, error=str(res))
        elif isinstance(res, BaseException):
            raise res


async def driver_io(what: str, axis: str, coro: Awaitable[None]) -> None:
    """Await a driver call; a DriverError becomes Trip(comm_loss) on `axis`."""
    try:
        await coro
    except DriverError as exc:
        raise Trip("comm_loss", f"{what}: {exc}", axis=axis) from exc


class Axes(FreshReadings):
    """The axes of one system: one poll for all, fresh-data waits, stop-all."""

    def __init__(self, axes: Iterable[Axis], *, move_margin_s: float, time_scale: float) -> None:
        super().__init__()
        self.axes = {a.name: a for a in axes}
        self.move_margin_s = move_margin_s
        self.time_scale = time_scale
        self.lost: dict[str, str] = {}

    def __getitem__(self, name: str) -> Axis:
        return self.axes[name]

    async def poll(self) -> None:
        """Read every device once; raise Trip(comm_loss) naming the first lost device."""
        jobs: list[tuple[Axis, str, Any]] = []
        for a in self.axes.values():
            jobs.append((a, "drive", a.drive.read_status()))
            if a.cell is not None:
                jobs.append((a, "load cell", a.cell.read()))
        results = await asyncio.gather(*(j for _, _, j in jobs), return_exceptions=True)
        lost: dict[str, str] = {}
        for (axis, kind, _), res in zip(jobs, results, strict=True):
            if isinstance(res, BaseException):
                if not isinstance(res, DriverError):
                    raise res
                lost[f"{kind} {axis.name}"] = str(res)
            elif kind == "drive":
                axis.status = res
            else:
                axis.load = res
        for label in lost.keys() - self.lost.keys():
            log.error("device_lost", **self._who(label), error=lost[label])
        for label in self.lost.keys() - lost.keys():
            log.info("device_back", **self._who(label))
        self.lost = lost
        if lost:
            label, err = next(iter(lost.items()))
            raise Trip("comm_loss", f"{label}: {err}", axis=label.split()[-1])

    def _who(self, label: str) -> dict[str, str]:
        """The log fields of a poll label ("load cell central"): the device's system and name."""
        kind, _, name = label.rpartition(" ")
        axis = self.axes[name]
        device = (axis.cell if kind == "load cell" and axis.cell is not None else axis.drive).name
        return {"subsystem": _subsystem_of(device), "device": device, "axis": label}

    async def until(self, ok: Callable[[], bool], sim_s: float, what: str) -> None:
        """Wait for fresh readings until `ok()`; Trip(move_timeout) after `sim_s` of physics
        (scaled by time_scale) plus the margin."""
        deadline_s = sim_s / self.time_scale + self.move_margin_s
        await wait_fresh_until(self.wait_poll, ok, deadline_s, what)

    io = staticmethod(driver_io)

    def any_moving(self) -> bool:
        return any(a.status is not None and a.status.moving for a in self.axes.values())

    def drive_axes(self) -> dict[str, Axis]:
        """Every drive axis, by name (restart recovery journals and checks them)."""
        return dict(self.axes)

    def all_parked(self) -> bool:
        return all(a.parked for a in self.axes.values())

    def reference_lost(self) -> bool:
        """A drive reports it is not homed (power loss or never homed)."""
        return any(a.status is not None and not a.status.homed for a in self.axes.values())

    async def halt_all(self) -> None:
        await halt_axes(self.axes.values())

    async def reset_alarms(self) -> None:
        for a in self.axes.values():
            if a.status is not None and a.status.alarm:
                with contextlib.suppress(CommError):
                    await a.drive.reset_alarm()

    def telemetry(self) -> dict[str, Any]:
        return {
            "axes": {name: a.telemetry() for name, a in self.axes.items()},
            "lost": sorted(self.lost),
        }
