"""The temperature-profile sensor (docs/hardware.md §9): a PT100 transmitter on the cable of one
ACU unit, reading the liquid's vertical temperature profile where the unit's true z is.

The liquid (LAB in the acrylic sphere) is stably stratified: warmer upwards with a constant
gradient, plus a warmer layer just under the liquid surface (the chimney, heated from the
house); above the surface the sensor is in the cover gas. The sensing element follows the
temperature around it with a first-order lag (`tau_s`, simulated seconds); each reading adds
Gaussian noise (`noise_c`) and is rounded to the transmitter's 0.1 mK.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterable

from simulators.config_thermometer import ThermometerCfg, ThermometerSimCfg

MODEL = "PT100-4W"


def checksum(text: str) -> str:
    """XOR of every byte strictly between ``%`` and ``*``, two upper-case hex digits."""
    value = 0
    for byte in text.encode("ascii"):
        value ^= byte
    return f"{value:02X}"


def frame(address: int, status: str, body: str) -> bytes:
    """``%AA,SS,body*CS\\r\\n``."""
    inner = f"{address:02d},{status},{body}"
    return f"%{inner}*{checksum(inner)}\r\n".encode("ascii")


def reading_frame(address: int, temperature_c: float, *, ok: bool = True) -> bytes:
    """The answer to ``T``: ``OK`` and ``±NNN.NNNN`` °C, or ``ER`` (sensor error)."""
    if not ok:
        return frame(address, "ER", f"{0.0:+09.4f}")
    return frame(address, "OK", f"{temperature_c:+09.4f}")


class LiquidProfile:
    """The true temperature at height z (detector frame, metres)."""

    def __init__(self, cfg: ThermometerSimCfg, z_liquid_m: float) -> None:
        self.cfg = cfg
        self.z_liquid_m = z_liquid_m

    def temperature_c(self, z_m: float) -> float:
        c = self.cfg
        if z_m > self.z_liquid_m:
            return c.gas_c
        top = c.top_excess_c * math.exp((z_m - self.z_liquid_m) / c.top_scale_m)
        return c.t_center_c + c.gradient_c_m * z_m + top


class Element:
    """The sensing element: a first-order lag behind the temperature around it."""

    def __init__(self, tau_s: float, temperature_c: float, t_s: float) -> None:
        self.tau_s = tau_s
        self.temperature_c = temperature_c
        self.t_s = t_s

    def advance(self, t_s: float, around_c: float) -> float:
        """Follow `around_c` (held since the last step) until `t_s`; the element's reading."""
        dt_s = t_s - self.t_s
        if dt_s <= 0:
            return self.temperature_c
        self.t_s = t_s
        if self.tau_s <= 0:
            self.temperature_c = around_c
        else:
            self.temperature_c += (around_c - self.temperature_c) * -math.expm1(-dt_s / self.tau_s)
        return self.temperature_c


class SimThermometer:
    """The transmitter at one address: answers ``T`` with `read()` plus noise, ``I``."""

    def __init__(
        self,
        address: int,
        read: Callable[[], float],
        *,
        noise_c: float,
        rng: random.Random,
        silent: Callable[[], bool],
    ) -> None:
        self.address = address
        self.read = read
        self.noise_c = noise_c
        self.rng = rng
        self.silent = silent
        self.sensor_error = False

    def answer(self, command: str) -> bytes | None:
        """The response to ``command`` (None: silent)."""
        if self.silent():
            return None
        if command == "T":
            if self.sensor_error:
                return reading_frame(self.address, 0.0, ok=False)
            noise = self.rng.gauss(0.0, self.noise_c) if self.noise_c > 0 else 0.0
            return reading_frame(self.address, self.read() + noise)
        if command == "I":
            return frame(self.address, "ID", MODEL)
        return frame(self.address, "??", "")


class ThermometerLine:
    """The sensor's serial line: routes ``%AA<cmd>`` requests by address."""

    def __init__(self, sensors: Iterable[SimThermometer]) -> None:
        self.sensors = {s.address: s for s in sensors}

    def handle(self, line: bytes) -> bytes | None:
        """Answer one CR-terminated request (None: nothing on the line)."""
        text = line.strip().decode("ascii", errors="replace")
        if len(text) < 4 or text[0] != "%" or not text[1:3].isdigit():
            return None
        sensor = self.sensors.get(int(text[1:3]))
        return None if sensor is None else sensor.answer(text[3:])


class CarriedThermometer:
    """The sensor on the cable of unit `cfg.unit`: `z_of(t_s)` is that unit's true height."""

    FAULTS = frozenset({"comm_loss", "sensor_error"})

    def __init__(
        self,
        cfg: ThermometerCfg,
        z_liquid_m: float,
        z_of: Callable[[float], float],
        seed: int,
        t_s: float,
    ) -> None:
        self.cfg = cfg
        self.profile = LiquidProfile(cfg.sim, z_liquid_m)
        self.z_of = z_of
        self.element = Element(cfg.sim.tau_s, self.profile.temperature_c(z_of(t_s)), t_s)
        self.rng = random.Random(f"{seed}/thermometer")
        self.sensor: SimThermometer | None = None

    def tick(self, t_s: float) -> float:
        """Advance the element to `t_s` in the liquid where the unit is now."""
        return self.element.advance(t_s, self.profile.temperature_c(self.z_of(t_s)))

    def line(self, now_s: Callable[[], float], silent: Callable[[], bool]) -> ThermometerLine:
        """The sensor on its serial line (one transmitter at `cfg.address`)."""
        self.sensor = SimThermometer(
            self.cfg.address,
            lambda: self.tick(now_s()),
            noise_c=self.cfg.sim.noise_c,
            rng=self.rng,
            silent=silent,
        )
        return ThermometerLine([self.sensor])

    def set_fault(self, fault: str, active: bool) -> None:
        """`sensor_error`: the transmitter answers ``ER`` (comm_loss is the rack's)."""
        if fault == "sensor_error" and self.sensor is not None:
            self.sensor.sensor_error = active

    def truth(self, t_s: float) -> dict[str, object]:
        """Where the sensor is, the liquid's temperature there and the element's (no noise)."""
        z_m = self.z_of(t_s)
        return {
            "unit": self.cfg.unit,
            "z_m": round(z_m, 6),
            "liquid_c": round(self.profile.temperature_c(z_m), 6),
            "element_c": round(self.tick(t_s), 6),
        }
