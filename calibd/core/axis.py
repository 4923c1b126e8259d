"""One cable axis (a spool drive, optionally with a load cell), shared by every system.

The poll loop is the only reader: `Axes.poll()` reads every device once; once the protections
have judged the readings, `Axes.wake()` wakes the motion sequences that wait for fresh data
(`Axes.wait_poll`, `Axes.until`), so no sequence acts on readings that tripped. The per-axis
protections are the rows of `calibd/core/axis_rules.py`, pure functions of the latest
readings, the motion trackers and a tension window the system computes.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import structlog

from calibd.cfg_interlocks import InterlocksCfg
from calibd.core.axis_rules import AxisView, first_trip
from calibd.core.errors import ErrorCode, Trip
from drivers.base import Drive, DriveStatus, ForceSensor, LoadReading
from drivers.errors import CommError, DriverError

log = structlog.get_logger("calibd.axis")


def _subsystem_of(device: str) -> str:
    """The system a device belongs to: the first word of its name (`cls1-central`,
    `cls1-load-side`, `acu-turntable`: calibd/assembly names every device so)."""
    return device.split("-", 1)[0]


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
class MotionTracker:
    """Follows one drive's motor-vs-encoder error and progress for the stall and slip rows.

    The error is judged relative to its value at the last standstill (a closed-loop drive may
    keep a constant offset after lost steps); progress is the encoder moving by more than two
    counts."""

    following_error_rev: float = 0.02
    stall_window_s: float = 0.5
    offset_rev: float | None = None
    now_s: float = 0.0
    readings: int = 0
    prev_rev: float | None = None  # encoder at the previous reading
    last_rev: float | None = None
    _progress: tuple[float, float, float] = (0.0, 0.0, 0.0)  # encoder, commanded, time

    @classmethod
    def for_drum(cls, limits: InterlocksCfg, drum_radius_m: float) -> MotionTracker:
        """A cable drum: the following-error limit in metres of cable at the drum radius."""
        return cls(limits.following_error_m / (2 * math.pi * drum_radius_m), limits.stall_window_s)

    def observe(self, status: DriveStatus, now_s: float, counts_per_rev: int) -> None:
        self.now_s = now_s
        self.readings += 1
        self.prev_rev, self.last_rev = self.last_rev, status.encoder_rev
        if not status.moving or self.offset_rev is None:
            self.offset_rev = status.commanded_rev - status.encoder_rev
            self._progress = (status.encoder_rev, status.commanded_rev, now_s)
        elif abs(status.encoder_rev - self._progress[0]) > 2.0 / counts_per_rev:
            self._progress = (status.encoder_rev, status.commanded_rev, now_s)

    def outward(self, lo_rev: float, hi_rev: float) -> bool:
        """Whether the last reading moved further away from [lo, hi] than the one before."""
        if self.prev_rev is None or self.last_rev is None:
            return False

        def beyond(rev: float) -> float:
            return max(lo_rev - rev, rev - hi_rev, 0.0)

        return beyond(self.last_rev) > beyond(self.prev_rev) + 1e-9

    def error_rev(self, status: DriveStatus) -> float:
        return status.commanded_rev - status.encoder_rev - (self.offset_rev or 0.0)

    def stall(self, axis: Axis) -> str | None:
        s = axis.status
        if s is None or not s.moving:
            return None
        err = self.error_rev(s)
        if abs(err) > self.following_error_rev and abs(s.velocity_rev_s) < 1e-9:
            return f"{axis.name} stalled: motor {err:+.4f} rev ahead of the encoder, no rotation"
        _, cmd0, t0 = self._progress
        if (
            self.now_s - t0 > self.stall_window_s
            and abs(s.commanded_rev - cmd0) > self.following_error_rev
        ):
            return f"{axis.name} stalled: no encoder progress for {self.now_s - t0:.2f} s"
        return None

    def slip(self, axis: Axis) -> str | None:
        s = axis.status
        if s is None or not s.moving:
            return None
        err = self.error_rev(s)
        if abs(err) <= self.following_error_rev:
            return None
        return (
            f"{axis.name} slipped: motor and encoder differ by {err:+.4f} rev "
            f"(limit {self.following_error_rev:.4f})"
        )


def cable_soft_rev(drum_radius_m: float, cable_length_m: float) -> tuple[float, float]:
    """Soft travel of a drum whose position is zero when parked: never more than the cable
    (less 0.5 m) either way, counted on the innermost radius (the most revolutions)."""
    rev = (cable_length_m - 0.5) / (2 * math.pi * drum_radius_m)
    return (-rev, rev)


def _now_s() -> float:
    try:
        return asyncio.get_running_loop().time()
    except RuntimeError:
        return time.monotonic()


@dataclass
class Axis:
    """A drive (+ load cell), its latest readings and its protections (`axis_rules`).

    `soft_rev`: the encoder range the axis may occupy once homed (beyond it: `soft_limit`)."""

    name: str
    drive: Drive
    cell: ForceSensor | None = None
    counts_per_rev: int = 4096
    load: LoadReading | None = None
    soft_rev: tuple[float, float] | None = None
    tracker: MotionTracker = field(default_factory=MotionTracker)
    _status: DriveStatus | None = field(default=None, repr=False)

    @property
    def status(self) -> DriveStatus | None:
        return self._status

    @status.setter
    def status(self, value: DriveStatus | None) -> None:
        self._status = value
        if value is not None:
            self.tracker.observe(value, _now_s(), self.counts_per_rev)

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
        """The first row of the per-axis interlock table that holds (None: all fine).

        `ignore_alarms`: judging whether a reset may proceed (alarms get reset, nothing moves)."""
        return first_trip(AxisView(self, window, homed, judging_reset=ignore_alarms))

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

    async def wake(self) -> None:
        """Wake the motion sequences waiting for fresh readings (the poll loop calls it once
        the protections have judged the readings, and not when they tripped)."""
        async with self._fresh:
            self._fresh.notify_all()

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
