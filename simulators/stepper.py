"""The simulated closed-loop stepper drive (docs/hardware.md §1), evaluated analytically at any
simulated time: motion, switch events, commands, alarms, faults and its register image."""

from __future__ import annotations

from collections.abc import Callable

from simulators.mechanics import Mechanics
from simulators.modbus_front import int32_from, int32_words, uint32_from
from simulators.motion import EPS, Profile, plan_jog, plan_move, plan_stop, standstill
from simulators.stepper_map import (
    ALARM,
    ALARM_LIMIT,
    ALARM_OVERLOAD,
    ALARM_RESET,
    COMM_TIMEOUT,
    COMM_TIMEOUT_REG,
    COMM_TIMEOUT_STEP_S,
    COMMAND_NAMES,
    COMMAND_REG,
    ENABLED,
    HALT,
    HOLDING_COUNT,
    HOME,
    HOME_SW,
    HOMED,
    IN_POSITION,
    LIMIT_NEG,
    LIMIT_POS,
    MOVING,
    START,
    STOP,
    WATCHDOG,
)

IN_POSITION_WINDOW_COUNTS = 4.0
INT32_MAX = 2**31 - 1


def _clamp_i32(value: float) -> int:
    return max(-INT32_MAX - 1, min(INT32_MAX, round(value)))


class Drive:
    """A drive model evaluated analytically at any simulated time (monotonic)."""

    def __init__(
        self,
        mechanics: Mechanics,
        start_counts: float,
        t_s: float,
        on_command: Callable[[str], None] | None = None,
    ) -> None:
        self.mechanics = mechanics
        self.on_command = on_command
        self.holding = [0] * HOLDING_COUNT
        self.alarm_code = 0
        self.homed = False
        self.forced_alarm = False
        self.forced_limit_pos = False
        self._profile: Profile = standstill(t_s, start_counts)
        self._cmd_zero = start_counts
        self._enc_zero = start_counts
        self._lost_counts = 0.0
        self._stall_drum: float | None = None
        self._slip_enc: int | None = None
        self._homing = False
        self._target: float | None = None
        self._t_s = t_s
        self._was_moving = False
        self._standstill_pending = False
        self._heard_s = t_s  # the last request addressed to this drive
        self.comm_timed_out = False  # STATUS COMM_TIMEOUT: the watchdog stopped the last run

    # -- state -------------------------------------------------------------------------------
    def motor(self, t_s: float) -> tuple[float, float]:
        """Motor (step generator) position and velocity, absolute counts."""
        return self._profile.state(t_s)

    def drum_counts(self, t_s: float) -> float:
        """True drum position, absolute counts (what the encoder follows)."""
        if self._stall_drum is not None:
            return self._stall_drum
        return self.motor(t_s)[0] - self._lost_counts

    def moving(self, t_s: float) -> bool:
        """MOVING: a profile is running (or a stalled motor has not reached its target)."""
        if self._profile.moving(t_s):
            return True
        return self._stall_drum is not None and abs(self.motor(t_s)[0] - self._stall_drum) > 0.5

    def encoder(self, t_s: float) -> int:
        """ENC_POS register value."""
        if self._slip_enc is not None:
            return self._slip_enc
        return _clamp_i32(self.drum_counts(t_s) - self._enc_zero)

    def limit_pos(self, drum: float) -> bool:
        """LIMIT_POS state."""
        lim = self.mechanics.limit_pos_counts()
        # a drive halted by the switch stands on its edge: within half a count is on it
        return self.forced_limit_pos or (lim is not None and drum >= lim - 0.5)

    def limit_neg(self, drum: float) -> bool:
        """LIMIT_NEG state."""
        lim = self.mechanics.limit_neg_counts()
        return lim is not None and drum <= lim + 0.5

    # -- time --------------------------------------------------------------------------------
    def heard(self, t_s: float) -> None:
        """A request addressed to this drive arrived (feeds the communication watchdog)."""
        self.advance(t_s)
        self._heard_s = max(self._heard_s, t_s)

    def advance(self, t_s: float) -> None:
        """Process switch events and the communication watchdog up to ``t_s``; note a
        standstill reached on the way."""
        t_s = max(t_s, self._t_s)
        steps = self.holding[COMM_TIMEOUT_REG]
        deadline_s = self._heard_s + steps * COMM_TIMEOUT_STEP_S
        if steps and self._t_s <= deadline_s <= t_s:
            self._advance_to(deadline_s)
            if self.moving(deadline_s):  # silent too long in a run: quick stop, as HALT
                self._halt(deadline_s, self.motor(deadline_s)[0])
                self.comm_timed_out = True
                if self.on_command is not None:
                    self.on_command(WATCHDOG)
        self._advance_to(t_s)

    def _advance_to(self, t_s: float) -> None:
        if self._stall_drum is None:
            self._process_events(t_s)
        x, v = self.motor(t_s)
        if self.forced_limit_pos and v > EPS:
            self._halt(t_s, x)
            self.alarm_code = ALARM_LIMIT
        self._t_s = t_s
        moving = self.moving(t_s)
        if self._was_moving and not moving:
            self._standstill_pending = True
        self._was_moving = moving

    def pop_standstill(self) -> bool:
        """Whether the drive came to standstill since the last call."""
        pending, self._standstill_pending = self._standstill_pending, False
        return pending

    def _process_events(self, t_s: float) -> None:
        after = self._t_s
        lost = self._lost_counts
        hits: list[tuple[float, str]] = []
        if self._homing:
            edge = self.mechanics.home_edge(self.drum_counts(after))
            hit = self._profile.first_time_at(edge + lost, after)
            if hit is not None and self.motor(hit)[1] < 0:
                hits.append((hit, "home"))
        for lim, sign in (
            (self.mechanics.limit_pos_counts(), 1.0),
            (self.mechanics.limit_neg_counts(), -1.0),
        ):
            if lim is None:
                continue
            hit = self._profile.first_time_at(lim + lost, after)
            if hit is not None and self.motor(hit)[1] * sign > 0:
                hits.append((hit, "limit"))
        hits = [h for h in hits if h[0] <= t_s]
        if not hits:
            return
        hit_s, kind = min(hits)
        x_hit = self.motor(hit_s)[0]
        self._halt(hit_s, x_hit)
        if kind == "home":
            self._set_home(x_hit)
        else:
            self.alarm_code = ALARM_LIMIT

    def _halt(self, t_s: float, x: float) -> None:
        self._profile = standstill(t_s, x)
        self._homing = False

    def _set_home(self, motor_counts: float) -> None:
        self._cmd_zero = motor_counts
        self._enc_zero = motor_counts - self._lost_counts
        self._target = motor_counts
        self.homed = True
        self._homing = False

    # -- commands ----------------------------------------------------------------------------
    def command(self, code: int, t_s: float) -> None:
        """Execute a COMMAND register write."""
        self.advance(t_s)
        t_s = self._t_s
        x, v = self.motor(t_s)
        speed = float(uint32_from(self.holding[2:4]))
        accel = float(uint32_from(self.holding[4:6]))
        drum = self.drum_counts(t_s)
        if code in (START, HOME):
            self.comm_timed_out = False
        if code == START and not self.alarm_code:
            target = int32_from(self.holding[0:2]) + self._cmd_zero
            if (target > x and self.limit_pos(drum)) or (target < x and self.limit_neg(drum)):
                self._halt(t_s, x)
                self.alarm_code = ALARM_LIMIT
            else:
                self._profile = plan_move(t_s, x, v, target, speed, accel)
                self._homing = False
                self._target = target
        elif code == STOP:
            self._profile = plan_stop(t_s, x, v, accel)
            self._homing = False
        elif code == HALT:
            self._halt(t_s, x)
        elif code == HOME and not self.alarm_code:
            if self.mechanics.home_active(drum):
                self._halt(t_s, x)
                self._set_home(x)
            elif speed > 0:
                self._profile = plan_jog(t_s, x, v, -speed, accel)
                self._homing = True
        elif code == ALARM_RESET and not self.forced_alarm:
            self.alarm_code = 0
        if self.on_command is not None and code in COMMAND_NAMES:
            self.on_command(COMMAND_NAMES[code])

    # -- faults ------------------------------------------------------------------------------
    def set_stall(self, active: bool, t_s: float) -> None:
        """Motor stops turning the drum (drum frozen) / recovers. The drive closes its loop on
        the encoder: on recovery it stands where the drum is (the lost steps are dropped from
        the motor counter), so positions stay in encoder counts."""
        self.advance(t_s)
        if active and self._stall_drum is None:
            self._stall_drum = self.drum_counts(t_s)
        elif not active and self._stall_drum is not None:
            self._halt(self._t_s, self._stall_drum + self._lost_counts)
            self._stall_drum = None

    def set_slip(self, active: bool, t_s: float) -> None:
        """Encoder stops following the drum / follows again with the slip as an offset."""
        self.advance(t_s)
        if active and self._slip_enc is None:
            self._slip_enc = self.encoder(t_s)
        elif not active and self._slip_enc is not None:
            self._enc_zero = self.drum_counts(t_s) - self._slip_enc
            self._slip_enc = None

    def set_alarm(self, active: bool, t_s: float, code: int = ALARM_OVERLOAD) -> None:
        """A drive alarm: quick stop and ALARM_CODE (stays latched until ALARM_RESET)."""
        self.advance(t_s)
        self.forced_alarm = active
        if active:
            self._halt(self._t_s, self.motor(self._t_s)[0])
            self.alarm_code = code

    def power_cycle(self, t_s: float) -> None:
        """Power lost and back (one-shot): the drive stops where the drum is, without a ramp,
        and forgets its reference. Commanded and encoder positions read 0 at the current drum
        position (incremental encoder), HOMED, ALARM, the target and the holding registers are
        cleared. Switches and mechanics are untouched; an injected cause still active (stall,
        slip, drive_alarm, limit) persists through the power cycle."""
        self.advance(t_s)
        t_s = self._t_s
        drum = self.drum_counts(t_s)
        self._halt(t_s, drum + self._lost_counts)
        self._cmd_zero = drum + self._lost_counts
        self._enc_zero = drum
        if self._slip_enc is not None:
            self._slip_enc = 0
        self.holding = [0] * HOLDING_COUNT  # the watchdog too: off
        self.comm_timed_out = False
        self.alarm_code = self.alarm_code if self.forced_alarm else 0
        self.homed = False
        self._target = None

    # -- registers ---------------------------------------------------------------------------
    def input_registers(self, t_s: float) -> list[int]:
        """Input registers 0..8."""
        self.advance(t_s)
        t_s = self._t_s
        drum = self.drum_counts(t_s)
        moving = self.moving(t_s)
        enc = self.encoder(t_s)
        status = ENABLED
        if moving:
            status |= MOVING
        elif (
            self._target is not None
            and abs(enc - (self._target - self._cmd_zero)) <= IN_POSITION_WINDOW_COUNTS
        ):
            status |= IN_POSITION
        if self.alarm_code:
            status |= ALARM
        if self.mechanics.home_active(drum):
            status |= HOME_SW
        if self.limit_pos(drum):
            status |= LIMIT_POS
        if self.limit_neg(drum):
            status |= LIMIT_NEG
        if self.homed:
            status |= HOMED
        if self.comm_timed_out:
            status |= COMM_TIMEOUT
        velocity = 0.0 if self._stall_drum is not None else self.motor(t_s)[1]
        return [
            status,
            self.alarm_code,
            *int32_words(_clamp_i32(self.motor(t_s)[0] - self._cmd_zero)),
            *int32_words(enc),
            *int32_words(_clamp_i32(velocity)),
            self.mechanics.inputs(drum) & 0xFFFF,
        ]

    def write_holding(self, address: int, values: list[int], t_s: float) -> None:
        """A holding-register write; a write that covers COMMAND executes it."""
        image = list(self.holding)
        image[address : address + len(values)] = values
        self.holding = image[:HOLDING_COUNT]
        if address <= COMMAND_REG < address + len(values):
            self.command(self.holding[COMMAND_REG], t_s)


def apply_drive_fault(drive: Drive, fault: str, active: bool, t_s: float) -> None:
    """Drive-level faults (comm_loss lives in the Modbus front end)."""
    if fault == "stall":
        drive.set_stall(active, t_s)
    elif fault == "slip":
        drive.set_slip(active, t_s)
    elif fault == "drive_alarm":
        drive.set_alarm(active, t_s)
    elif fault == "limit":
        drive.advance(t_s)
        drive.forced_limit_pos = active
    elif fault == "power_loss" and active:  # one-shot: clearing has nothing to undo
        drive.power_cycle(t_s)
