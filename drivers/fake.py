"""In-memory fakes of the ``drivers.base`` Protocols, for the daemon's FSM unit tests.

Time: every fake reads an injectable ``clock`` (default ``time.monotonic``) and catches up on
the time elapsed since its last call, so moves and valve travel complete in real time. For
deterministic tests pass a shared ``ManualClock`` and advance it; ``FakeDrive.advance(dt_s)``
also steps a drive's motion explicitly.

Faults: ``lost = True`` makes every call raise CommError; ``fail_next = n`` fails the next n
calls. Calls that fail are not recorded.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from drivers.errors import CommError
from drivers.io_module import VALVE_CHANNELS, IoSnapshot
from drivers.load_cell import LoadReading, LoadStatus
from drivers.stepper import AlarmCode, DriveStatus
from drivers.uss import UssFix

Clock = Callable[[], float]


class ManualClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self, start_s: float = 0.0) -> None:
        self.now_s = start_s

    def __call__(self) -> float:
        return self.now_s

    def advance(self, dt_s: float) -> None:
        """Move time forward by ``dt_s``."""
        if dt_s < 0:
            raise ValueError("time only moves forward")
        self.now_s += dt_s


class _Faults:
    """``lost`` / ``fail_next`` switches shared by the fakes."""

    name: str
    lost: bool
    fail_next: int

    def _check_faults(self, what: str) -> None:
        if self.lost:
            raise CommError(f"{what}: no answer (fake lost)", device=self.name)
        if self.fail_next > 0:
            self.fail_next -= 1
            raise CommError(f"{what}: no answer (fake fail_next)", device=self.name)


class FakeDrive(_Faults):
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


class FakeForceSensor(_Faults):
    """Load cell with a settable reading, or one computed by ``tension_fn`` on every read."""

    def __init__(
        self,
        name: str = "load cell",
        *,
        tension_n: float = 0.0,
        status: LoadStatus = LoadStatus.STABLE,
        tension_fn: Callable[[], float] | None = None,
    ) -> None:
        self.name = name
        self.lost = False
        self.fail_next = 0
        self.tension_n = tension_n
        self.status = status
        self.tension_fn = tension_fn
        self.reads = 0

    async def read(self) -> LoadReading:
        """The current tension and status."""
        self._check_faults("read")
        self.reads += 1
        tension_n = self.tension_fn() if self.tension_fn is not None else self.tension_n
        return LoadReading(tension_n=tension_n, status=self.status)


class FakePositionSensor(_Faults):
    """USS receiver with a settable fix, or one computed by ``position_fn`` on every read."""

    def __init__(
        self,
        name: str = "uss",
        *,
        fix: UssFix | None = None,
        position_fn: Callable[[], tuple[float, float, float] | None] | None = None,
    ) -> None:
        self.name = name
        self.lost = False
        self.fail_next = 0
        self.fix = fix or UssFix(0.0, 0.0, 0.0, ok=False)
        self.position_fn = position_fn
        self.reads = 0

    async def read(self) -> UssFix:
        """The current fix."""
        self._check_faults("read")
        self.reads += 1
        if self.position_fn is None:
            return self.fix
        pos = self.position_fn()
        if pos is None:
            return UssFix(0.0, 0.0, 0.0, ok=False)
        return UssFix(pos[0], pos[1], pos[2], ok=True)


class FakeIo(_Faults):
    """IO module whose valves reach their end switch ``valve_travel_s`` after a command.

    While travelling neither end switch is active; a channel in ``stuck_valves`` ignores
    commands. Every successful ``set_valve`` is recorded in ``valve_calls``.
    """

    def __init__(
        self,
        name: str = "io",
        *,
        valve_travel_s: float = 0.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self.name = name
        self.lost = False
        self.fail_next = 0
        self.valve_travel_s = valve_travel_s
        self.estop_ok = True
        self.n2_flow_ok = True
        self.o2_ppm = 4.0
        self.radon_mbq_m3 = 8.0
        self.temperature_c = 21.0
        self.stuck_valves: set[int] = set()
        self.valve_calls: list[tuple[int, bool]] = []
        self._clock = clock
        self._commanded_open = [False] * VALVE_CHANNELS
        self._settled_open = [False] * VALVE_CHANNELS
        self._arrive_s = [float("-inf")] * VALVE_CHANNELS

    def valve_open(self, channel: int) -> bool | None:
        """True open, False closed, None travelling."""
        self._settle()
        if self._settled_open[channel] != self._commanded_open[channel]:
            return None
        return self._settled_open[channel]

    async def read(self) -> IoSnapshot:
        """End switches, e-stop, N2 flow and the environment at the current time."""
        self._check_faults("read")
        states = [self.valve_open(k) for k in range(VALVE_CHANNELS)]
        return IoSnapshot(
            valve_opened=tuple(s is True for s in states),
            valve_closed=tuple(s is False for s in states),
            estop_ok=self.estop_ok,
            n2_flow_ok=self.n2_flow_ok,
            o2_ppm=self.o2_ppm,
            radon_mbq_m3=self.radon_mbq_m3,
            temperature_c=self.temperature_c,
        )

    async def set_valve(self, channel: int, open_: bool) -> None:
        """Command valve ``channel`` open or closed."""
        if not 0 <= channel < VALVE_CHANNELS:
            raise ValueError(f"valve channel must be 0..7, not {channel}")
        self._check_faults("set_valve")
        self.valve_calls.append((channel, open_))
        self._settle()
        if channel in self.stuck_valves or self._commanded_open[channel] == open_:
            return
        self._commanded_open[channel] = open_
        if self._settled_open[channel] == open_:
            # reversed mid-travel back to where it was: treat as a fresh travel
            self._settled_open[channel] = not open_
        self._arrive_s[channel] = self._clock() + self.valve_travel_s
        self._settle()

    def _settle(self) -> None:
        now_s = self._clock()
        for k in range(VALVE_CHANNELS):
            if k not in self.stuck_valves and now_s >= self._arrive_s[k]:
                self._settled_open[k] = self._commanded_open[k]
