"""One cable axis (a spool drive, optionally with a load cell), shared by every system.

The poll loop is the only reader: `Axes.poll()` reads every device once and wakes the motion
sequences that wait for fresh data (`Axes.wait_poll`, `Axes.until`). The per-axis protections
(drive alarm, limit switches, lost reference, load-cell error, over-tension, slack) are pure
functions of the latest readings and a tension window the system computes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import structlog

from calibd.core.errors import ErrorCode, Trip
from drivers.base import Drive, DriveStatus, ForceSensor, LoadReading, LoadStatus
from drivers.errors import CommError, DriverError

log = structlog.get_logger("calibd.axis")


@dataclass(frozen=True)
class TensionWindow:
    """Acceptable tension: below `low_n` is slack, above `high_n` a snag."""

    low_n: float
    high_n: float

    @classmethod
    def around(
        cls,
        expected_n: float,
        *,
        snag_factor: float,
        slack_factor: float,
        floor_n: float,
        range_n: float,
    ) -> TensionWindow:
        """The window around an expected tension (domain.md: ±max(floor, factor))."""
        high = min(max(snag_factor * expected_n, expected_n + floor_n), 0.8 * range_n)
        low = min(slack_factor * expected_n, expected_n - floor_n)
        return cls(low, high)


@dataclass
class Axis:
    """A drive (+ load cell) and its latest readings."""

    name: str
    drive: Drive
    cell: ForceSensor | None = None
    counts_per_rev: int = 4096
    status: DriveStatus | None = None
    load: LoadReading | None = None

    @property
    def parked(self) -> bool:
        """On its home (parked) switch."""
        return self.status is not None and self.status.home_switch

    @property
    def rev(self) -> float | None:
        """Encoder position in revolutions (None before the first reading)."""
        return None if self.status is None else self.status.encoder_rev

    @property
    def tension_n(self) -> float | None:
        return None if self.load is None else self.load.tension_n

    def arrived(self, target_rev: float, tolerance_counts: float = 1.5) -> bool:
        """Standing still within `tolerance_counts` of `target_rev`."""
        st = self.status
        return (
            st is not None
            and not st.moving
            and abs(st.encoder_rev - target_rev) <= tolerance_counts / self.counts_per_rev
        )

    def trip(
        self, window: TensionWindow | None, *, homed: bool, ignore_alarms: bool = False
    ) -> Trip | None:
        """The first protection the latest readings violate (None: all fine)."""
        s, load, name = self.status, self.load, self.name
        if s is not None:
            if s.alarm and not ignore_alarms:
                return Trip("drive_alarm", f"drive {name} alarm code {s.alarm_code}", axis=name)
            if s.limit_pos or s.limit_neg:
                which = "end-of-cable" if s.limit_pos else "over-wind"
                return Trip(
                    "limit", f"{which} limit switch on {name}", error=ErrorCode.INTERLOCK, axis=name
                )
            if homed and not s.homed and not ignore_alarms:
                return Trip("position_lost", f"drive {name} lost its reference", axis=name)
        if load is None or window is None:
            return None
        if load.status == LoadStatus.ERROR:
            return Trip("load_cell_error", f"load cell {name} reports a sensor error", axis=name)
        t = load.tension_n
        if load.status == LoadStatus.OVERLOAD or t > window.high_n:
            return Trip(
                "snag",
                f"over-tension on {name}: {t:.2f} N > {window.high_n:.2f} N",
                error=ErrorCode.INTERLOCK,
                axis=name,
            )
        if t < window.low_n:
            return Trip(
                "slack",
                f"slack cable on {name}: {t:.2f} N < {window.low_n:.2f} N",
                error=ErrorCode.INTERLOCK,
                axis=name,
            )
        return None

    def telemetry(self) -> dict[str, Any]:
        s, load = self.status, self.load
        return {
            "encoder_rev": None if s is None else round(s.encoder_rev, 5),
            "commanded_rev": None if s is None else round(s.commanded_rev, 5),
            "speed_rev_s": None if s is None else round(s.velocity_rev_s, 5),
            "tension_n": None if load is None else round(load.tension_n, 4),
            "moving": None if s is None else s.moving,
            "parked": self.parked,
        }


async def wait_fresh_until(
    wait_poll: Callable[[], Awaitable[None]], ok: Callable[[], bool], deadline_s: float, what: str
) -> None:
    """Wait for fresh readings (`wait_poll`) until `ok()`; Trip(move_timeout) after
    `deadline_s` of wall time."""
    try:
        async with asyncio.timeout(deadline_s):
            await wait_poll()
            while not ok():
                await wait_poll()
    except TimeoutError:
        message = f"{what}: not done after {deadline_s:.1f} s"
        raise Trip("move_timeout", message, error=ErrorCode.TIMEOUT) from None


async def driver_io(what: str, axis: str, coro: Awaitable[None]) -> None:
    """Await a driver call; a DriverError becomes Trip(comm_loss) on `axis`."""
    try:
        await coro
    except DriverError as exc:
        raise Trip("comm_loss", f"{what}: {exc}", axis=axis) from exc


class Axes:
    """The axes of one system: one poll for all, fresh-data waits, stop-all."""

    def __init__(self, axes: Iterable[Axis], *, move_margin_s: float, time_scale: float) -> None:
        self.axes = {a.name: a for a in axes}
        self.move_margin_s = move_margin_s
        self.time_scale = time_scale
        self.lost: dict[str, str] = {}
        self._fresh = asyncio.Condition()

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
            log.error("device_lost", device=label, error=lost[label])
        for label in self.lost.keys() - lost.keys():
            log.info("device_back", device=label)
        self.lost = lost
        async with self._fresh:
            self._fresh.notify_all()
        if lost:
            label, err = next(iter(lost.items()))
            raise Trip("comm_loss", f"{label}: {err}", axis=label.split()[-1])

    async def wait_poll(self) -> None:
        """Until the next poll has stored fresh readings."""
        async with self._fresh:
            await self._fresh.wait()

    async def until(self, ok: Callable[[], bool], sim_s: float, what: str) -> None:
        """Wait for fresh readings until `ok()`; Trip(move_timeout) after `sim_s` of physics
        (scaled by time_scale) plus the margin."""
        deadline_s = sim_s / self.time_scale + self.move_margin_s
        await wait_fresh_until(self.wait_poll, ok, deadline_s, what)

    io = staticmethod(driver_io)

    def any_moving(self) -> bool:
        return any(a.status is not None and a.status.moving for a in self.axes.values())

    def all_parked(self) -> bool:
        return all(a.parked for a in self.axes.values())

    def reference_lost(self) -> bool:
        """A drive reports it is not homed (power loss or never homed)."""
        return any(a.status is not None and not a.status.homed for a in self.axes.values())

    async def halt_all(self) -> None:
        """Quick-stop every drive at once; a drive that does not answer is logged, not raised."""
        drives = [a.drive for a in self.axes.values()]
        results = await asyncio.gather(*(d.halt() for d in drives), return_exceptions=True)
        for d, res in zip(drives, results, strict=True):
            if isinstance(res, DriverError):
                log.error("halt_failed", device=d.name, error=str(res))
            elif isinstance(res, BaseException):
                raise res

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
