"""In-memory fake of the ``Drive`` Protocol: a position-mode drive with home and limit
switches, alarms and the ``drivers.fake`` clock and fault switches."""

from __future__ import annotations

import time

from drivers.fake import Clock, FakeFaults
from drivers.stepper import AlarmCode, DriveStatus


class FakeDrive(FakeFaults):
    """Position-mode drive moving at constant speed (acceleration is recorded, not modelled).

    ``home()`` runs negative until the position reaches ``home_at_rev`` (where the home switch
    is), then zeroes the position. ``home_switch`` is None for automatic (active within
    ``home_window_rev`` of the switch position) or a bool to force it. Setting ``alarm_code``
    non-zero raises the alarm and stops motion (see ``trip``); a move into an active limit
    switch is refused with alarm code 4, as the real drive does.
    """

    def __init__(
        self,
        name: str = "drive",
        *,
        position_rev: float = 0.0,
        homed: bool = False,
        home_at_rev: float = 0.0,
        home_window_rev: float = 0.001,
        in_position_window_rev: float = 1e-6,
        clock: Clock = time.monotonic,
    ) -> None:
        self.name = name
        self.lost = False
        self.fail_next = 0
        self.commands: list[tuple[str, tuple[float, ...]]] = []
        self.position_rev = position_rev
        self.encoder_error_rev = 0.0
        self.homed = homed
        self.enabled = True
        self.alarm_code = 0
        self.alarm_latched = False
        self.limit_pos = False
        self.limit_neg = False
        self.home_switch: bool | None = None
        self.inputs = 0
        self.home_at_rev = home_at_rev
        self.home_window_rev = home_window_rev
        self.in_position_window_rev = in_position_window_rev
        self.target_rev = position_rev
        self.speed_rev_s = 0.0
        self.accel_rev_s2 = 0.0
        self.moving = False
        self.homing = False
        self._clock = clock
        self._last_s = clock()

    @property
    def alarm(self) -> bool:
        """ALARM bit: set while ``alarm_code`` is non-zero."""
        return self.alarm_code != 0

    def trip(self, code: int = AlarmCode.OVER_CURRENT) -> None:
        """Raise an alarm now: motion stops at once."""
        self._catch_up()
        self.alarm_code = int(code)
        self._standstill()

    def advance(self, dt_s: float) -> None:
        """Step the motion explicitly by ``dt_s`` (on top of the clock)."""
        self._catch_up()
        self._step(dt_s)

    async def read_status(self) -> DriveStatus:
        """Status at the current time."""
        self._catch_up()
        self._check_faults("read_status")
        direction = self._direction()
        at_target = abs(self.position_rev - self.target_rev) <= self.in_position_window_rev
        return DriveStatus(
            moving=self.moving,
            in_position=not self.moving and at_target and not self.alarm,
            alarm=self.alarm,
            home_switch=self._home_switch_active(),
            limit_pos=self.limit_pos,
            limit_neg=self.limit_neg,
            homed=self.homed,
            enabled=self.enabled,
            alarm_code=self.alarm_code,
            commanded_rev=self.position_rev,
            encoder_rev=self.position_rev + self.encoder_error_rev,
            velocity_rev_s=direction * self.speed_rev_s if self.moving else 0.0,
            inputs=self.inputs,
        )

    async def move_to(self, target_rev: float, speed_rev_s: float, accel_rev_s2: float) -> None:
        """START: absolute move (ignored while the alarm is set)."""
        self._command("move_to", target_rev, speed_rev_s, accel_rev_s2)
        self.speed_rev_s, self.accel_rev_s2 = speed_rev_s, accel_rev_s2
        if self.alarm:
            return
        direction = (target_rev > self.position_rev) - (target_rev < self.position_rev)
        if (direction > 0 and self.limit_pos) or (direction < 0 and self.limit_neg):
            self.alarm_code = int(AlarmCode.LIMIT_SWITCH)
            return
        self.target_rev = target_rev
        self.homing = False
        self.moving = direction != 0

    async def stop(self) -> None:
        """Decelerated stop (immediate in the fake)."""
        self._command("stop")
        self._standstill()

    async def halt(self) -> None:
        """Quick stop."""
        self._command("halt")
        self._standstill()

    async def home(self, speed_rev_s: float) -> None:
        """Run negative to the home switch, then zero the position."""
        self._command("home", speed_rev_s)
        self.speed_rev_s = speed_rev_s
        if self.alarm:
            return
        self.homing = True
        self.moving = True
        self._step(0.0)

    async def reset_alarm(self) -> None:
        """Clear the alarm unless ``alarm_latched``."""
        self._command("reset_alarm")
        if not self.alarm_latched:
            self.alarm_code = 0

    def _command(self, name: str, *args: float) -> None:
        self._catch_up()
        self._check_faults(name)
        self.commands.append((name, args))

    def _catch_up(self) -> None:
        now_s = self._clock()
        dt_s, self._last_s = max(0.0, now_s - self._last_s), now_s
        self._step(dt_s)

    def _direction(self) -> int:
        if self.homing:
            return -1
        delta = self.target_rev - self.position_rev
        return (delta > 0) - (delta < 0)

    def _step(self, dt_s: float) -> None:
        if not self.moving:
            return
        direction = self._direction()
        if (direction > 0 and self.limit_pos) or (direction < 0 and self.limit_neg):
            self.alarm_code = int(AlarmCode.LIMIT_SWITCH)
            self._standstill()
            return
        step_rev = self.speed_rev_s * dt_s
        if self.homing:
            if self.position_rev - step_rev <= self.home_at_rev:
                self.position_rev = self.target_rev = 0.0
                self.home_at_rev = 0.0
                self.homed = True
                self._standstill()
            else:
                self.position_rev -= step_rev
            return
        if abs(self.target_rev - self.position_rev) <= step_rev:
            self.position_rev = self.target_rev
            self.moving = False
        else:
            self.position_rev += direction * step_rev

    def _standstill(self) -> None:
        self.moving = False
        self.homing = False
        self.target_rev = self.position_rev

    def _home_switch_active(self) -> bool:
        if self.home_switch is not None:
            return self.home_switch
        return abs(self.position_rev - self.home_at_rev) <= self.home_window_rev
