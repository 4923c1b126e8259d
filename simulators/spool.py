"""Pure spool physics: layered drum, hanging cable tension, stretch, buoyancy, valve stop."""

from __future__ import annotations

import math
from dataclasses import dataclass

from simulators.config import SpoolCfg

STRETCH_ITERATIONS = 3


@dataclass(frozen=True)
class Drum:
    """A multi-layer drum; ``layers`` = (winding radius, cable length) outermost first."""

    layers: tuple[tuple[float, float], ...]

    @classmethod
    def from_cfg(cls, spool: SpoolCfg) -> Drum:
        """Wind all of ``cable_length_m`` from layer 0 outwards (the parked state)."""
        layers: list[tuple[float, float]] = []
        remaining_m = spool.cable_length_m
        k = 0
        while remaining_m > 1e-12:
            radius_m = spool.drum_radius_m + (k + 0.5) * spool.cable_diameter_m
            capacity_m = spool.turns_per_layer * 2 * math.pi * radius_m
            take_m = min(capacity_m, remaining_m)
            layers.append((radius_m, take_m))
            remaining_m -= take_m
            k += 1
        return cls(tuple(reversed(layers)))

    def paid_out_m(self, revs: float) -> float:
        """Cable paid out after ``revs`` drum revolutions from parked (negative: over-wound)."""
        if revs <= 0:
            return revs * 2 * math.pi * self.layers[0][0]
        paid_m = 0.0
        for radius_m, length_m in self.layers:
            turns = length_m / (2 * math.pi * radius_m)
            if revs <= turns:
                return paid_m + revs * 2 * math.pi * radius_m
            paid_m += length_m
            revs -= turns
        return paid_m + revs * 2 * math.pi * self.layers[-1][0]

    def revs_at(self, paid_out_m: float) -> float:
        """Inverse of :meth:`paid_out_m`."""
        if paid_out_m <= 0:
            return paid_out_m / (2 * math.pi * self.layers[0][0])
        revs = 0.0
        for radius_m, length_m in self.layers:
            if paid_out_m <= length_m:
                return revs + paid_out_m / (2 * math.pi * radius_m)
            revs += length_m / (2 * math.pi * radius_m)
            paid_out_m -= length_m
        return revs + paid_out_m / (2 * math.pi * self.layers[-1][0])


@dataclass(frozen=True)
class Cable:
    """The cable and source hanging below the spool (spool exit at ``z_park_m``)."""

    z_park_m: float
    z_liquid_m: float
    ea_n: float
    weight_air_n_m: float
    weight_liquid_n_m: float
    source_air_n: float
    source_liquid_n: float

    @property
    def dry_length_m(self) -> float:
        """Cable length from the spool down to the liquid surface."""
        return max(self.z_park_m - self.z_liquid_m, 0.0)

    def source_weight_n(self, wet: bool) -> float:
        """Apparent source weight."""
        return self.source_liquid_n if wet else self.source_air_n

    def cable_weight_n(self, length_m: float) -> float:
        """Apparent weight of ``length_m`` of hanging cable (dry above the liquid, wet below)."""
        dry_m = min(length_m, self.dry_length_m)
        wet_m = max(length_m - self.dry_length_m, 0.0)
        return self.weight_air_n_m * dry_m + self.weight_liquid_n_m * wet_m

    def top_tension_n(self, length_m: float, source_wet: bool) -> float:
        """Tension at the spool (the load cell)."""
        return self.source_weight_n(source_wet) + self.cable_weight_n(max(length_m, 0.0))

    def stretch_m(self, length_m: float, source_wet: bool) -> float:
        """Integral of T(s)/EA over the hanging length (exact, piecewise)."""
        length_m = max(length_m, 0.0)
        h_m = self.dry_length_m
        # ∫0^L T ds = W_src·L + ∫0^L u·w(u) du
        dry_m = min(length_m, h_m)
        moment = self.weight_air_n_m * dry_m**2 / 2
        if length_m > h_m:
            moment += self.weight_liquid_n_m * (length_m**2 - h_m**2) / 2
        return (self.source_weight_n(source_wet) * length_m + moment) / self.ea_n

    def hang(self, paid_out_m: float) -> tuple[float, float]:
        """Free-hanging source: (z_m, top tension_n) for a paid-out length."""
        length_m = max(paid_out_m, 0.0)
        wet = False
        z_m = self.z_park_m
        for _ in range(STRETCH_ITERATIONS):
            z_m = self.z_park_m - length_m - self.stretch_m(length_m, wet)
            wet = z_m < self.z_liquid_m
        z_m = min(z_m, self.z_park_m)
        return z_m, self.top_tension_n(length_m, wet)

    @classmethod
    def from_cfg(cls, spool: SpoolCfg, z_park_m: float, z_liquid_m: float) -> Cable:
        """Build from the spool config and the ACU geometry."""
        return cls(
            z_park_m=z_park_m,
            z_liquid_m=z_liquid_m,
            ea_n=spool.cable_ea_n,
            weight_air_n_m=spool.cable_weight_air_n_m,
            weight_liquid_n_m=spool.cable_weight_liquid_n_m,
            source_air_n=spool.source_weight_air_n,
            source_liquid_n=spool.source_weight_liquid_n,
        )


@dataclass(frozen=True)
class SourceState:
    """The true state of one source."""

    paid_out_m: float
    z_m: float
    tension_n: float
    on_valve: bool


class SpoolPhysics:
    """One unit's cable and source, including the gate valve stop (stateful)."""

    def __init__(self, spool: SpoolCfg, z_park_m: float, z_liquid_m: float, z_valve_m: float):
        self.drum = Drum.from_cfg(spool)
        self.cable = Cable.from_cfg(spool, z_park_m, z_liquid_m)
        self.z_valve_m = z_valve_m
        self.cable_length_m = spool.cable_length_m
        self._below_valve = False

    def nominal_tension_n(self, paid_out_m: float) -> float:
        """The free-hanging top tension for a paid-out length."""
        return self.cable.hang(paid_out_m)[1]

    def update(self, paid_out_m: float, valve_open: bool) -> SourceState:
        """The source state for a paid-out length; a closed valve holds the source."""
        z_m, tension_n = self.cable.hang(paid_out_m)
        if z_m >= self.z_valve_m:
            self._below_valve = False
        elif valve_open:
            self._below_valve = True
        if z_m < self.z_valve_m and not self._below_valve:
            above_m = self.cable.z_park_m - self.z_valve_m
            slack_tension_n = self.cable.cable_weight_n(min(max(paid_out_m, 0.0), above_m))
            return SourceState(paid_out_m, self.z_valve_m, slack_tension_n, on_valve=True)
        return SourceState(paid_out_m, z_m, tension_n, on_valve=False)
