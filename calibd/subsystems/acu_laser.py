"""The ACU's UV laser: `laser_on`, `laser_off` and `laser_scan` at the current point, the poll of
its controller, the emission condition (row `laser_emission`) with switch-off as soon as it
ceases, the laser trips, and the emission intervals.

Every switch-off is one `X` frame (emission disabled, shutter closed) and bumps a generation
counter first: an on-sequence (rate, attenuator, shutter, enable, read-back) checks it before
each frame, so once a switch-off is asked for no older request's `E1` can follow it (the serial
line sends frames in the order they were asked for).

An emission interval starts when the controller's status confirms light (the rate and
intensity read back) and ends with a reason; each is a `laser` event (`started`, `ended`) that
the deployment log stores (`calibd/store/emissions.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import asdict, replace
from typing import Any, Protocol

import structlog

from calibd.cfg_laser import LaserCfg
from calibd.core.commands import Command
from calibd.core.errors import CommandError, ErrorCode, Trip
from calibd.core.timefmt import iso_now
from calibd.subsystems.acu_laser_args import (
    Emission,
    LaserOnArgs,
    LaserScanArgs,
    Site,
    blocker,
    laser_trip,
    sig,
)
from calibd.subsystems.acu_laser_scan import Scan
from drivers.errors import DriverError
from drivers.laser import Laser, LaserStatus, od_milli

log = structlog.get_logger("calibd.acu.laser", subsystem="acu")
_SHUTDOWN_OFF_S = 0.5


class LaserHost(Protocol):
    """What the laser needs of the ACU."""

    time_scale: float

    def laser_site(self) -> Site: ...

    def trip(self, exc: Trip) -> None: ...

    def event(self, kind: str, **fields: Any) -> None: ...

    def publish_status(self) -> None: ...

    def source_id(self, unit: str | None = None) -> str | None: ...


class _Superseded(Exception):
    """A switch-off came while an on-sequence ran."""


class AcuLaser:
    def __init__(self, cfg: LaserCfg, z_emit_max_m: float, device: Laser, host: LaserHost) -> None:
        self.cfg = cfg
        self.z_emit_max_m = z_emit_max_m
        self.device = device
        self.host = host
        self.status: LaserStatus | None = None
        self.lost: str | None = None
        self.emission: Emission | None = None
        self.scan: Scan | None = None
        self.last_off: str | None = None  # reason of the last switch-off
        self._gen = 0
        self._seq = asyncio.Lock()
        self._tg: asyncio.TaskGroup | None = None
        self._off_task: asyncio.Task[bool] | None = None
        self._stray = False

    # ---- the emission condition ----------------------------------------------------------------

    def blocker(self) -> str | None:
        return blocker(self.cfg, self.z_emit_max_m, self.host.laser_site())

    def may_be_emitting(self) -> bool:
        """Whether light may leave the head (unknown counts as yes)."""
        st = self.status
        return self.emission is not None or st is None or st.enabled or st.shutter_open

    def check(self, action: str) -> None:
        """State-dependent refusals of `laser_on` / `laser_scan` (before anything is sent)."""
        if action == "laser_off":
            return
        if self.scan is not None:
            raise CommandError(ErrorCode.BUSY, f"a laser_scan is running ({self.scan.command})")
        if self.lost is not None:
            raise CommandError(ErrorCode.HARDWARE, f"laser controller not answering: {self.lost}")
        why = self.blocker()
        if why is not None:
            raise CommandError(ErrorCode.INTERLOCK, f"laser_emission: {why}")
        trip = self.fault_trip()
        if trip is not None:
            raise CommandError(trip.error, f"{trip.code}: {trip.message}")

    def judge(self) -> None:
        """On fresh readings: emission whose condition ceased is switched off now."""
        st = self.status
        if self.emission is None and not (st is not None and st.emitting):
            return
        why = self.blocker()
        if why is not None:
            self.switch_off_soon(f"interlock: {why}", ErrorCode.INTERLOCK)

    def fault_trip(self) -> Trip | None:
        """The laser trip the latest readings show (None: none)."""
        return laser_trip(self.cfg, self.status, self.lost)

    # ---- actions -------------------------------------------------------------------------------

    async def act_laser_on(self, cmd: Command, args: LaserOnArgs) -> None:
        rate = args.rate_hz or self.cfg.rate_default_hz
        await self.emit(rate, args.intensity, cmd.id, "changed")
        self.host.publish_status()

    async def act_laser_off(self, cmd: Command, args: Any) -> None:
        self._end_scan("laser_off", ErrorCode.INVALID_STATE)  # a running scan: aborted
        if not await self.off("laser_off"):
            raise CommandError(ErrorCode.HARDWARE, f"laser off not confirmed: {self.lost}")
        self.host.publish_status()

    async def act_laser_scan(self, cmd: Command, args: LaserScanArgs) -> None:
        """Each intensity for its dwell (scaled by time_scale) here, then off (Scan.run)."""
        rate = args.rate_hz or self.cfg.rate_default_hz
        steps = list(zip(args.intensities, args.dwells(), strict=True))
        self.scan = Scan(cmd.id, rate, steps, self.host.time_scale)
        try:
            await self.scan.run(self)
        finally:
            self.scan = None
        self.host.publish_status()

    # ---- what a scan needs -----------------------------------------------------------------------

    @property
    def emitting(self) -> bool:
        return self.emission is not None

    def published(self) -> None:
        self.host.publish_status()

    # ---- switching -----------------------------------------------------------------------------

    async def emit(self, rate_hz: float, intensity: float, command: str, ends: str) -> None:
        """Set rate and attenuator, open and fire; confirmed by a status read."""
        gen = self._gen
        async with self._seq:
            why = self.blocker()
            if why is not None:
                raise CommandError(ErrorCode.INTERLOCK, f"laser_emission: {why}")
            try:
                self._alive(gen)
                if self.emission is not None:
                    self._end_interval(ends)  # the setting changes now
                await self.device.set_rate(rate_hz)
                self._alive(gen)
                await self.device.set_intensity(intensity)
                self._alive(gen)
                await self.device.open_shutter()  # both idempotent: no stale belief counts
                self._alive(gen)
                await self.device.enable_emission()
                self._alive(gen)
                st = await self.device.read_status()
                self._alive(gen)
            except _Superseded:
                raise CommandError(
                    ErrorCode.INVALID_STATE, f"laser switched off meanwhile ({self.last_off})"
                ) from None
            except DriverError as exc:
                await self.off("failed")
                raise CommandError(ErrorCode.HARDWARE, f"laser: {exc}") from None
            self.status = st
            same = st.od_milli == od_milli(intensity) and abs(st.rate_hz - rate_hz) <= 0.06
            if not (st.emitting and same):
                await self.off("not confirmed")
                raise CommandError(
                    ErrorCode.HARDWARE,
                    f"the controller does not confirm emission at {rate_hz:g} Hz, intensity"
                    f" {intensity:g} (reads E{int(st.enabled)} H{int(st.shutter_open)}"
                    f" {st.rate_hz:g} Hz, {st.intensity:.4g}, faults {list(st.faults)})",
                )
            self._start_interval(st, command)

    def _alive(self, gen: int) -> None:
        if gen != self._gen:
            raise _Superseded

    def switch_off_soon(self, reason: str, code: ErrorCode = ErrorCode.INVALID_STATE) -> bool:
        """Switch emission off now, in the laser's own task (the caller does not wait for the
        answer); a running scan ends with `code`. True when this call started the switch-off:
        its `X` is on the line once the caller yields once (unless a poll holds the line)."""
        self._gen += 1  # no on-sequence sends another frame
        self._end_scan(reason, code)
        if self._tg is None or (self._off_task is not None and not self._off_task.done()):
            return False
        self._off_task = self._tg.create_task(self.off(reason), name="acu:laser:off")
        return True

    def _end_scan(self, reason: str, code: ErrorCode) -> None:
        if self.scan is not None:
            self.scan.stop(reason, code)

    async def off(self, reason: str) -> bool:
        """`X`; the interval ends with `reason`. False when the controller did not answer."""
        self._gen += 1
        self.last_off = reason
        try:
            await self.device.all_off()
        except DriverError as exc:
            log.error("laser_off_failed", reason=reason, error=str(exc))
            if self.emission is not None and self.lost is None:
                self.lost = str(exc)
            return False
        if self.status is not None:  # the controller confirmed: dark until the next poll says
            self.status = replace(self.status, enabled=False, shutter_open=False)
        self._end_interval(reason)
        return True

    async def off_before(self, action: str) -> None:
        """A motion command switches emission off before it moves (a `move` only with
        require_still); CommandError(hardware) when that cannot be confirmed."""
        if action == "move" and not self.cfg.require_still:
            return
        if self.may_be_emitting() and not await self.off(action):
            raise CommandError(
                ErrorCode.HARDWARE,
                f"{action} not started: laser emission could not be switched off ({self.lost})",
            )

    async def clear_faults(self) -> None:
        """`C`, then a fresh status (the reset judges on it)."""
        with contextlib.suppress(DriverError):
            await self.device.clear_faults()
        await self._poll()

    async def shutdown_off(self) -> None:
        """On the way out: emission off (bounded), the interval ends `shutdown`."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_SHUTDOWN_OFF_S):
                await self.off("shutdown")

    # ---- intervals -----------------------------------------------------------------------------

    def _start_interval(self, st: LaserStatus, command: str | None) -> None:
        unit = self.cfg.unit
        self.emission = Emission(
            sig(st.rate_hz),
            sig(st.intensity),
            iso_now(),
            command,
            unit,
            self.host.source_id(unit),
        )
        self.host.event("laser", change="started", **asdict(self.emission))

    def _end_interval(self, reason: str) -> None:
        if self.emission is None:
            return
        started, self.emission = self.emission, None
        self.host.event("laser", change="ended", reason=reason, ended=iso_now(), **asdict(started))

    # ---- poll ----------------------------------------------------------------------------------

    async def run(self) -> None:
        """Off first (a restarted daemon finds the laser as it was left), then poll."""
        async with asyncio.TaskGroup() as tg:
            self._tg = tg
            try:
                await self.off("daemon_start")
                while True:
                    await self._poll()
                    await asyncio.sleep(self.cfg.poll_s)
            finally:
                self._tg = None

    async def _poll(self) -> None:
        try:
            st = await self.device.read_status()
        except DriverError as exc:
            if self.lost is None:
                log.error("laser_lost", error=str(exc))
            self.lost = str(exc)
            self._end_interval("comm_loss")
            self.host.trip(Trip("laser_comm_loss", f"laser controller: {exc}", axis="laser"))
            return
        if self.lost is not None:
            log.info("laser_back")
        self.lost, self.status = None, st
        if not self._seq.locked():
            if self.emission is not None and not st.emitting:
                self._end_interval("controller: " + (", ".join(st.faults) or "stopped"))
            stray = st.emitting and self.emission is None
            if stray and self._stray:
                msg = "the controller emits though told to stop"
                self.host.trip(Trip("laser_fault", msg, axis="laser"))
            elif stray:
                self.switch_off_soon("unexpected emission")
            self._stray = stray
        trip = self.fault_trip()
        if trip is not None:
            self.host.trip(trip)
        self.judge()
