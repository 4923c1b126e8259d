"""In-memory fake of the ``IoDevice`` Protocol: valves with travel time and stuck channels,
e-stop, N2 flow and the environment."""

from __future__ import annotations

import time

from drivers.fake import Clock, FakeFaults
from drivers.io_module import VALVE_CHANNELS, IoSnapshot


class FakeIo(FakeFaults):
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
