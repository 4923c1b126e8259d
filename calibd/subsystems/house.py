"""The calibration house: gate valves, environment monitors, e-stop input (one IO module).

Deployment systems open and close their gate valve only through this subsystem
(`open_valve` / `close_valve`), which waits for the end switch and faults on a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any, Protocol

from calibd.config import HouseCfg
from calibd.core.actions import ActionSpec, Handler, sources
from calibd.core.commands import NoArgs
from calibd.core.errors import CommandError, ErrorCode, Trip
from calibd.core.fsm import attach
from calibd.core.outbox import Outbox
from calibd.core.source_store import (
    SOURCE_STORE_ACTIONS,
    apply_store_action,
    store_actions,
)
from calibd.core.subsystem import Subsystem
from drivers.base import IoDevice
from drivers.errors import DriverError
from drivers.io_module import IoSnapshot

STATES = ["UNKNOWN", "READY", "FAULT"]
TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": "connected", "source": "UNKNOWN", "dest": "READY"},
    {"trigger": "fault", "source": ["UNKNOWN", "READY"], "dest": "FAULT"},
    {"trigger": "reset", "source": "FAULT", "dest": "READY"},
]
_ALL = frozenset(STATES)
_FAST_POLL_S = 0.02
_FIRST_READING_S = 2.0


def valve_state(snap: IoSnapshot, channel: int) -> str:
    opened, closed = snap.valve_opened[channel], snap.valve_closed[channel]
    if opened and closed:
        return "fault"
    if opened:
        return "open"
    if closed:
        return "closed"
    return "moving"


class ValveGuard(Protocol):
    """Who decides whether a gate valve may move: (interlock id, message) to refuse."""

    def may_open(self, valve: str) -> tuple[str, str] | None: ...

    def may_close(self, valve: str) -> tuple[str, str] | None: ...


class House(Subsystem):
    ACTIONS = {
        "status": ActionSpec(NoArgs, _ALL, motion=False),
        "home": ActionSpec(NoArgs, frozenset({"READY"}), motion=False),
        "stop": ActionSpec(NoArgs, _ALL, motion=False),
        "reset": ActionSpec(NoArgs, sources(TRANSITIONS, "reset", STATES), motion=False),
        **store_actions(_ALL),
    }

    def __init__(
        self, cfg: HouseCfg, io: IoDevice, outbox: Outbox, *, time_scale: float = 1.0
    ) -> None:
        super().__init__("house", outbox, time_scale=time_scale)
        self.cfg = cfg
        self.io = io
        self.snapshot: IoSnapshot | None = None
        self._commanded: dict[str, bool] = {}
        self._fresh = asyncio.Condition()
        self._wake = asyncio.Event()
        self._valve_waiters = 0
        self._published_key: tuple[object, ...] | None = None
        #: the interlock board: may a valve open (atmosphere) / close (nothing in its path)?
        self.guard: ValveGuard | None = None
        attach(self, STATES, TRANSITIONS, "UNKNOWN")

    # ---- service to deployment systems ----------------------------------------------------

    def valve(self, name: str) -> str:
        """`open`, `closed`, `moving`, `fault`, or `unknown` without a reading."""
        if self.snapshot is None or self.state == "FAULT":
            return "unknown"
        return valve_state(self.snapshot, self.cfg.valves[name])

    def estop_ok(self) -> bool | None:
        """The e-stop circuit (fail-safe input): True closed, False open, None no reading."""
        return None if self.snapshot is None else self.snapshot.estop_ok

    def atmosphere(self) -> tuple[float, float] | None:
        """(O2 ppm, radon mBq/m3) of the latest reading; None without one."""
        snap = self.snapshot
        return None if snap is None else (snap.o2_ppm, snap.radon_mbq_m3)

    async def open_valve(self, name: str) -> None:
        await self._drive_valve(name, True)

    async def close_valve(self, name: str) -> None:
        await self._drive_valve(name, False)

    def _guarded(self, name: str, open_: bool) -> None:
        """The interlock board's word on moving this valve: Trip(interlock) when it refuses."""
        if self.guard is None:
            return
        refusal = self.guard.may_open(name) if open_ else self.guard.may_close(name)
        if refusal is not None:
            ident, message = refusal
            raise Trip(ident, message, error=ErrorCode.INTERLOCK, axis=name)

    async def _drive_valve(self, name: str, open_: bool) -> None:
        want = "open" if open_ else "closed"
        if self.state == "UNKNOWN":
            await self._first_reading()
        if self.state != "READY":
            raise Trip("house_unavailable", f"house is {self.state}", axis=name)
        if self.valve(name) == want and self._commanded.get(name) == open_:
            return
        self._guarded(name, open_)
        try:
            await self.io.set_valve(self.cfg.valves[name], open_)
        except DriverError as exc:
            raise Trip("comm_loss", f"IO module: {exc}", axis="io") from exc
        self._commanded[name] = open_
        self.event("valve", valve=name, command=want)
        self.publish_status()
        deadline_s = self.scaled_s(self.cfg.valve_timeout_s) + 2 * _FAST_POLL_S
        self._valve_waiters += 1
        self._wake.set()
        try:
            async with asyncio.timeout(deadline_s):
                while True:
                    async with self._fresh:
                        await self._fresh.wait()
                    if self.valve(name) == want:
                        return
        except TimeoutError:
            if open_:
                await self._withdraw_open(name)
            raise Trip(
                "valve_timeout",
                f"valve {name} not {want} after {self.cfg.valve_timeout_s:.1f} s",
                error=ErrorCode.HARDWARE,
                axis=name,
            ) from None
        finally:
            self._valve_waiters -= 1

    async def _withdraw_open(self, name: str) -> None:
        """A valve that failed to open is commanded closed again: it must never open later on
        its own (when it frees itself) behind the deployment system's back. Nothing can be in
        its path, since the source waits for the open end switch. A failed valve that should
        close stays as it is: a cable may be in the way."""
        try:
            await self.io.set_valve(self.cfg.valves[name], False)
        except DriverError as exc:
            self.log.error("valve_withdraw_failed", valve=name, error=str(exc))
            return
        self._commanded[name] = False
        self.event("valve", valve=name, command="closed", reason="open timed out")

    async def _first_reading(self) -> None:
        """Just after start the IO module may not have been read yet: wait (bounded) for it."""
        self._wake.set()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_FIRST_READING_S):
                while self.state == "UNKNOWN":
                    async with self._fresh:
                        await self._fresh.wait()

    # ---- poll --------------------------------------------------------------------------------

    async def poll_loop(self) -> None:
        while True:
            started = time.monotonic()
            try:
                self.snapshot = await self.io.read()
            except DriverError as exc:
                self.snapshot = None
                self.trip(Trip("comm_loss", f"IO module: {exc}", axis="io"))
            else:
                if self.state == "UNKNOWN":
                    await self.trigger("connected")
            self.first_poll.set()
            async with self._fresh:
                self._fresh.notify_all()
            if self.on_fresh is not None:
                self.on_fresh(self.name)
            moving = self.snapshot is not None and any(
                valve_state(self.snapshot, ch) == "moving" for ch in self.cfg.valves.values()
            )
            # the analog readings (O2, radon, temperature) are noisy on every poll: they go out
            # with the next discrete change, or at least every STATUS_PERIOD_S
            if self._discrete() != self._published_key or self.status_due():
                self.publish_status()
            fast = moving or self._valve_waiters > 0
            period = _FAST_POLL_S if fast else self.cfg.poll_s
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, period - (time.monotonic() - started))):
                    await self._wake.wait()

    async def on_enter_FAULT(self, event: Any) -> None:  # noqa: N802 - transitions naming
        self.event("interlock", id="house_fault", severity="trip")

    # ---- actions -----------------------------------------------------------------------------

    async def act_status(self, cmd: Any, args: Any) -> None:
        self.publish_status()

    async def act_home(self, cmd: Any, args: Any) -> None:
        """Nothing to reference in the house; completes when the IO module answers."""

    async def act_stop(self, cmd: Any, args: Any) -> None:
        """Valves are never moved by a stop (a valve must not close on a cable)."""

    def apply_maintenance(self, cmd: Any, args: Any) -> None:
        if cmd.action in SOURCE_STORE_ACTIONS:
            apply_store_action(self.inventory, cmd, args)

    def handler(self, action: str) -> Handler:
        return self._act_source_store if action in SOURCE_STORE_ACTIONS else super().handler(action)

    async def _act_source_store(self, cmd: Any, args: Any) -> None:
        """Applied on acceptance; completes at once."""

    def check(self, action: str, args: Any) -> None:
        if action == "reset" and self.snapshot is None:
            raise CommandError(ErrorCode.INTERLOCK, "IO module still not answering")

    async def act_reset(self, cmd: Any, args: Any) -> None:
        self.latched = None
        await self.run_trigger("reset", {"READY"})

    def _discrete(self) -> tuple[object, ...]:
        """What of the status goes out at the poll that sees it change: the state, the valves,
        the e-stop input and the N2 flow (state changes and commands publish themselves)."""
        snap = self.snapshot
        if snap is None:
            return (self.state, None)
        valves = tuple(valve_state(snap, ch) for ch in self.cfg.valves.values())
        return (self.state, valves, snap.estop_ok, snap.n2_flow_ok)

    def publish_status(self) -> None:
        self._published_key = self._discrete()
        super().publish_status()

    def status_fields(self) -> dict[str, Any]:
        snap = self.snapshot
        fields: dict[str, Any] = {"homed": True, "deployed": False, "source": None, "target": None}
        if snap is None:
            fields["position"] = None
            return fields
        fields["position"] = {
            "valves": {name: valve_state(snap, ch) for name, ch in self.cfg.valves.items()},
            "o2_ppm": round(snap.o2_ppm, 2),
            "radon_mbq_m3": round(snap.radon_mbq_m3, 2),
            "temperature_c": round(snap.temperature_c, 2),
            "estop_ok": snap.estop_ok,
            "n2_flow_ok": snap.n2_flow_ok,
        }
        return fields
