"""ACU temperature profiles: the `profile` action (docs/mqtt-api.md).

The sensor's unit, deployed, goes at the normal speed to `z_from_m`, then at `speed_m_s` to
`z_to_m` while the sensor is sampled every `sample_period_s` (physical seconds). Each sample
is taken right after a position poll and tagged with the daemon's z at the middle of the
reading, interpolated between that poll and the next one. Samples are published in chunks on
`{root}/acu/profile` as they come; a `profile` event marks the start and the end (with the
outcome and a least-squares fit of T(z)); the store records all three (calibd/store/profiles.py).
A sensor that stops answering ends the profile `failed`: the ACU stops where it is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from calibd.config import AcuCfg
from calibd.core.actions import Fault
from calibd.core.axes import driver_io
from calibd.core.commands import Args, Command
from calibd.core.errors import CommandError, ErrorCode, Trip
from calibd.core.fresh import wait_fresh_until
from calibd.core.outbox import Outbox, Outgoing
from calibd.core.subsystem import SourceLookup
from calibd.core.timefmt import iso_now
from calibd.subsystems.acu_axes import AcuAxes, UnitAxis
from calibd.subsystems.acu_motion import AcuMotion
from calibd.subsystems.acu_profile_fit import Fit, interpolate
from drivers.errors import DriverError
from drivers.thermometer import TemperatureSensor

#: slower than this the stall protection (2 encoder counts per stall window) would not see motion
MIN_SPEED_M_S = 0.001
#: consecutive bad readings (no answer, garbled, sensor error) that end a profile `failed`
MAX_BAD_READINGS = 3
TOPIC = "acu/profile"

Event = Callable[..., None]


class ProfileArgs(Args):
    z_from_m: float
    z_to_m: float
    speed_m_s: float


@dataclass
class Run:
    """One profile while it runs."""

    id: str
    started: str
    args: ProfileArgs
    fit: Fit = field(default_factory=Fit)
    pending: list[dict[str, Any]] = field(default_factory=list)
    chunks: int = 0
    flushed_s: float = 0.0
    last: dict[str, Any] | None = None


class Profiler:
    """The `profile` action of one ACU: checks, the run, its publications."""

    def __init__(
        self,
        cfg: AcuCfg,
        sensor: TemperatureSensor,
        axes: AcuAxes,
        motion: AcuMotion,
        outbox: Outbox,
        event: Event,
        latched: Callable[[], Fault | None],
        *,
        time_scale: float = 1.0,
    ) -> None:
        if cfg.thermometer is None:
            raise ValueError("no [acu.thermometer]")
        self.cfg = cfg
        self.tcfg = cfg.thermometer
        self.sensor = sensor
        self.axes = axes
        self.motion = motion
        self.outbox = outbox
        self.event = event
        self.latched = latched
        self.time_scale = time_scale
        self.run: Run | None = None
        #: why the last profile failed (the sensor), None if it did not
        self.error: CommandError | None = None
        #: the last profile moved the unit (a failure before that leaves it where it was)
        self.moved = False

    # ---- before anything moves ---------------------------------------------------------------

    def check_args(self, args: ProfileArgs) -> None:
        lo, hi = self.cfg.z_min_m, self.cfg.z_max_m
        for name, z_m in (("z_from_m", args.z_from_m), ("z_to_m", args.z_to_m)):
            if not lo <= z_m <= hi:
                raise CommandError(ErrorCode.OUT_OF_RANGE, f"{name} {z_m} outside [{lo}, {hi}]")
        if args.z_from_m == args.z_to_m:
            raise CommandError(ErrorCode.OUT_OF_RANGE, "z_from_m = z_to_m: nothing to profile")
        top = self.tcfg.max_speed_m_s
        if not MIN_SPEED_M_S <= args.speed_m_s <= top:
            raise CommandError(
                ErrorCode.OUT_OF_RANGE,
                f"speed_m_s {args.speed_m_s} outside [{MIN_SPEED_M_S}, {top}]",
            )

    def check(self, inventory: SourceLookup | None) -> None:
        unit = self.tcfg.unit
        here = self.axes.current
        if here != unit or self.axes.units[unit].parked:
            raise CommandError(
                ErrorCode.INVALID_STATE,
                f"profile needs unit {unit} (the sensor's) deployed under the port (now: unit"
                f" {here or 'none'}); deploy unit {unit} first",
            )
        mounted = None if inventory is None else inventory.mounted("acu", unit)
        if inventory is not None and (mounted is None or mounted.kind != self.tcfg.kind):
            what = "nothing" if mounted is None else f"{mounted.id} ({mounted.kind})"
            raise CommandError(
                ErrorCode.INVALID_STATE,
                f"unit {unit} carries {what}, not a {self.tcfg.kind}: retract, then an expert"
                f" mounts the sensor (acu/expert/cmd `mount`)",
            )

    # ---- the run -----------------------------------------------------------------------------

    async def profile(self, cmd: Command, args: ProfileArgs, sensor_id: str | None) -> None:
        """Run one profile; a Trip propagates (the FSM latches it), a sensor failure leaves
        `self.error` set and returns (the FSM stops the ACU)."""
        self.error, self.moved = None, False
        unit = self.axes.units[self.tcfg.unit]
        if not await self._answers():
            return
        self.moved = True
        await self.motion.spool_to(unit, args.z_from_m)
        started = iso_now()
        run = Run(f"acu-{started.replace('-', '').replace(':', '')}", started, args)
        self.run = run
        self.event(
            "profile",
            change="started",
            profile=run.id,
            unit=unit.cfg.name,
            sensor=sensor_id,
            z_from_m=args.z_from_m,
            z_to_m=args.z_to_m,
            speed_m_s=args.speed_m_s,
            sample_period_s=self.tcfg.sample_period_s,
            started=run.started,
            command=cmd.id,
            operator=cmd.operator,
        )
        outcome, message = "completed", ""
        try:
            await self._sampled_leg(run, unit, args)
            if self.error is None:
                await self.motion.spool_to(unit, args.z_to_m)  # the final position correction
            else:
                outcome, message = "failed", self.error.message
        except Trip as exc:
            outcome, message = "fault", f"{exc.code}: {exc.message}"
            raise
        except asyncio.CancelledError:
            fault = self.latched()
            outcome = "stopped" if fault is None else "fault"
            message = "stopped" if fault is None else f"{fault.code}: {fault.message}"
            raise
        finally:
            self._end(run, outcome, message)

    async def _answers(self) -> bool:
        """One reading before anything moves: a silent sensor fails the profile at once."""
        try:
            async with asyncio.timeout(self.tcfg.read_timeout_s):
                reading = await self.sensor.read()
        except (DriverError, TimeoutError) as exc:
            self.error = CommandError(ErrorCode.HARDWARE, f"thermometer: {exc or 'no answer'}")
            return False
        if not reading.ok:
            self.error = CommandError(ErrorCode.HARDWARE, "thermometer: sensor error")
        return reading.ok

    async def _sampled_leg(self, run: Run, u: UnitAxis, args: ProfileArgs) -> None:
        sampler = asyncio.create_task(self._sample(run), name="acu:profile-sampler")
        try:
            await self._slow_leg(u, args.z_to_m, args.speed_m_s)
        finally:
            sampler.cancel()
            await asyncio.wait({sampler})
        if not sampler.cancelled() and (exc := sampler.exception()) is not None:
            raise exc

    async def _slow_leg(self, u: UnitAxis, z_m: float, speed_m_s: float) -> None:
        """One move of the spool at `speed_m_s` (ends early once the sensor has failed)."""
        rev = u.model.rev_for_z(z_m)
        rev_now = 0.0 if u.status is None else u.status.encoder_rev
        m_per_rev = u.model.drum.metres_per_rev(rev_now)
        accel = self.cfg.accel_m_s2
        name = u.cfg.name
        await driver_io(
            f"profile {name}", name, u.drive.move_to(rev, speed_m_s / m_per_rev, accel / m_per_rev)
        )
        tol_rev = 1.5 / self.cfg.spool_of(name).counts_per_rev

        def done() -> bool:
            st = u.status
            arrived = st is not None and not st.moving and abs(st.encoder_rev - rev) <= tol_rev
            return arrived or self.error is not None

        sim_s = abs(rev - rev_now) * m_per_rev / speed_m_s + 2 * speed_m_s / accel
        deadline_s = sim_s / self.time_scale + self.cfg.move_margin_s
        await wait_fresh_until(self.axes.wait_poll, done, deadline_s, f"profile of unit {name}")

    async def _sample(self, run: Run) -> None:
        """Sample after polls at the configured period until cancelled (or the sensor fails)."""
        loop = asyncio.get_running_loop()
        unit = self.tcfg.unit
        period_s = self.tcfg.sample_period_s / self.time_scale
        await self.axes.wait_poll()
        t0, z0 = loop.time(), self.axes.z_m(unit)
        due_s, bad = t0, 0
        while True:
            if t0 < due_s:
                await self.axes.wait_poll()
                t0, z0 = loop.time(), self.axes.z_m(unit)
                continue
            t_req = loop.time()
            why = "sensor error"
            try:
                async with asyncio.timeout(self.tcfg.read_timeout_s):
                    reading = await self.sensor.read()
                ok = reading.ok
            except (DriverError, TimeoutError) as exc:
                ok, why = False, str(exc) or "no answer"
            t_mid, ts = (t_req + loop.time()) / 2, iso_now()
            await self.axes.wait_poll()
            t1, z1 = loop.time(), self.axes.z_m(unit)
            if ok and z0 is not None and z1 is not None:
                self._add(run, ts, interpolate(t0, z0, t1, z1, t_mid), reading.temperature_c)
                bad = 0
            elif not ok:
                bad += 1
                if bad >= MAX_BAD_READINGS:
                    self.error = CommandError(ErrorCode.HARDWARE, f"thermometer: {why}")
                    return
            due_s = max(due_s + period_s, t_req)
            t0, z0 = t1, z1

    # ---- publishing --------------------------------------------------------------------------

    def _add(self, run: Run, ts: str, z_m: float, temperature_c: float) -> None:
        """One sample as published (z to 10 µm, T to the sensor's 0.1 mK), fitted as such."""
        z_m, temperature_c = round(z_m, 5), round(temperature_c, 4)
        run.fit.add(z_m, temperature_c)
        sample = {"n": run.fit.n, "ts": ts, "z_m": z_m, "temperature_c": temperature_c}
        run.pending.append(sample)
        run.last = sample
        now_s = asyncio.get_running_loop().time()
        if run.chunks == 0 and run.flushed_s == 0.0:
            run.flushed_s = now_s
        if (
            len(run.pending) >= self.tcfg.chunk_samples
            or now_s - run.flushed_s >= self.tcfg.chunk_period_s
        ):
            self._flush(run, now_s)

    def _flush(self, run: Run, now_s: float) -> None:
        run.flushed_s = now_s
        if not run.pending:
            return
        run.chunks += 1
        doc = {
            "system": "acu",
            "profile": run.id,
            "ts": iso_now(),
            "chunk": run.chunks,
            "samples": run.pending,
        }
        run.pending = []
        self.outbox.put(Outgoing("message", "acu", doc, topic=TOPIC))

    def _end(self, run: Run, outcome: str, message: str) -> None:
        self._flush(run, run.flushed_s)
        self.run = None
        self.event(
            "profile",
            change="ended",
            profile=run.id,
            outcome=outcome,
            message=message,
            started=run.started,
            samples=run.fit.n,
            chunks=run.chunks,
            **run.fit.summary(),
        )

    def status(self) -> dict[str, Any] | None:
        """The running profile for the ACU's status (None: none running)."""
        run = self.run
        if run is None:
            return None
        return {
            "id": run.id,
            "z_from_m": run.args.z_from_m,
            "z_to_m": run.args.z_to_m,
            "speed_m_s": run.args.speed_m_s,
            "samples": run.fit.n,
            "last": run.last,
        }
