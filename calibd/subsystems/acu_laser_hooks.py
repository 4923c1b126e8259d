"""How the ACU's FSM carries its UV laser (`calibd/subsystems/acu_laser.py`): the laser actions,
emission off before every motion and first on every trip and e-stop, the gate valve that never
closes while emission may be on, the reset that clears the controller's faults, the laser's
poll next to the ACU's, status and telemetry.

`Acu` derives from `LaserHooks` (a `DeploymentSystem`). Without `[acu.laser]` or without a
controller (the FSM tests on fakes) every hook passes through and the laser actions are
refused `bad_request`.

Trip order: `trip()` (poll loop, interlock board, e-stop) starts the laser's switch-off task
before the trip task; a trip raised inside a motion sequence (`guarded` -> `_trip`) starts it
and yields once. Either way the laser's `X` frame is written before the drives' halts are sent,
and the halts do not wait for its answer (unless a poll of the laser holds its line: then both
go at once).
"""

from __future__ import annotations

import asyncio
from typing import Any

from calibd.config import AcuCfg
from calibd.core.actions import Handler
from calibd.core.commands import Command
from calibd.core.deployment import DeploymentSystem
from calibd.core.errors import CommandError, ErrorCode, Trip
from calibd.core.valves import ValveControl
from calibd.subsystems.acu_axes import AcuAxes
from calibd.subsystems.acu_laser import AcuLaser
from calibd.subsystems.acu_laser_args import LASER_ACTIONS, OFF_BEFORE, Site, check_laser_args
from calibd.subsystems.acu_laser_view import laser_status, laser_telemetry
from drivers.laser import Laser


class LaserSafeValves:
    """The gate valve as the ACU's motion sequences see it: a close waits until emission is
    confirmed off (else Trip `laser_valve`, and the valve is not moved)."""

    def __init__(self, valves: ValveControl, laser: AcuLaser) -> None:
        self._valves = valves
        self._laser = laser

    def valve(self, name: str) -> str:
        return self._valves.valve(name)

    async def open_valve(self, name: str) -> None:
        await self._valves.open_valve(name)

    async def close_valve(self, name: str) -> None:
        if self._laser.may_be_emitting() and not await self._laser.off("valve"):
            raise Trip(
                "laser_valve",
                f"gate valve {name} not closed: laser emission not confirmed off",
                axis=name,
            )
        await self._valves.close_valve(name)


class LaserHooks(DeploymentSystem):
    """The laser's place in the ACU's command path, trip path and poll."""

    cfg: AcuCfg
    axes: AcuAxes
    valves: ValveControl
    laser: AcuLaser | None = None

    def attach_laser(self, device: Laser | None) -> None:
        """Build the laser control (once the ACU's own fields are set)."""
        lc = self.cfg.laser
        if lc is None or device is None:
            return
        z_max = self.cfg.z_max_m if lc.z_emit_max_m is None else lc.z_emit_max_m
        self.laser = AcuLaser(lc, z_max, device, self)

    def laser_valves(self, valves: ValveControl) -> ValveControl:
        return valves if self.laser is None else LaserSafeValves(valves, self.laser)

    def laser_site(self) -> Site:
        unit = None if self.laser is None else self.laser.cfg.unit
        z = self.axes.z_m(unit) if unit in self.axes.units else None
        return Site(
            state=self.state,
            unit=self.axes.current,
            z_m=z,
            valve=self.valves.valve(self.cfg.valve),
            moving=self.state in self.MOTION_STATES or self.hw.any_moving(),
            latched=None if self.latched is None else self.latched.code,
        )

    # ---- commands ------------------------------------------------------------------------------

    def laser_check_args(self, action: str, args: Any) -> None:
        if action not in LASER_ACTIONS:
            return
        if self.laser is None:
            raise CommandError(ErrorCode.BAD_REQUEST, "the acu has no laser ([acu.laser])")
        check_laser_args(self.laser.cfg, action, args)

    def check_common(self, action: str, args: Any) -> None:
        super().check_common(action, args)
        if self.laser is not None and action in LASER_ACTIONS:
            self.laser.check(action)

    def laser_cause(self) -> str | None:
        """Why a reset cannot clear the laser now (the controller's latched flags are cleared
        by the reset itself and judged afterwards)."""
        laser = self.laser
        if laser is None:
            return None
        trip = laser.fault_trip()
        if trip is not None and trip.code in {"laser_comm_loss", "laser_overtemp"}:
            st = laser.status
            if trip.code == "laser_comm_loss" or (
                st is not None and st.head_temp_c >= laser.cfg.head_temp_max_c
            ):
                return f"{trip.code}: {trip.message}"
        return None

    def handler(self, action: str) -> Handler:
        laser = self.laser
        if laser is not None and action in LASER_ACTIONS:
            handler: Handler = getattr(laser, f"act_{action}")
            return handler
        inner = super().handler(action)
        if laser is None:
            return inner
        if action in OFF_BEFORE:

            async def off_first(cmd: Command, args: Any) -> None:
                await laser.off_before(action)
                await inner(cmd, args)

            return off_first
        if action == "stop":

            async def stop(cmd: Command, args: Any) -> None:
                if laser.switch_off_soon("stop"):
                    await asyncio.sleep(0)  # its X goes out before the halts
                await inner(cmd, args)

            return stop
        return inner

    async def act_reset(self, cmd: Command, args: Any) -> None:
        if self.laser is not None:
            await self.laser.clear_faults()
        await super().act_reset(cmd, args)

    def reset_cause(self) -> Trip | None:
        cause = super().reset_cause()
        if cause is None and self.laser is not None:
            return self.laser.fault_trip()
        return cause

    # ---- the trip path: emission off first -----------------------------------------------------

    def trip(self, exc: Trip) -> None:
        if self.laser is not None and not (self._tripping or self.state == "FAULT"):
            self.laser.switch_off_soon(f"trip: {exc.code}", exc.error)
        super().trip(exc)

    async def _trip(self, exc: Trip) -> None:
        if self.laser is not None and self.state != "FAULT":
            if self.laser.switch_off_soon(f"trip: {exc.code}", exc.error):
                await asyncio.sleep(0)  # its X goes out before the halts
        await super()._trip(exc)

    # ---- poll, status ----------------------------------------------------------------------------

    async def poll_loop(self) -> None:
        if self.laser is None:
            await super().poll_loop()
            return
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.laser.run(), name=f"{self.name}:laser")
            await super().poll_loop()

    def after_poll(self) -> None:
        super().after_poll()
        if self.laser is not None:
            self.laser.judge()

    def telemetry(self, payload: dict[str, Any]) -> None:
        if self.laser is not None:
            payload = {**payload, "laser": laser_telemetry(self.laser)}
        super().telemetry(payload)

    def laser_status(self) -> dict[str, Any]:
        """The `laser` part of the ACU's status (nothing without a laser)."""
        return {} if self.laser is None else {"laser": laser_status(self.laser)}

    async def safe_stop(self) -> None:
        if self.laser is not None:
            await self.laser.shutdown_off()
        await super().safe_stop()
