"""ACU kinematics: drum revolutions and measured tension -> source height, and back.

Pure functions of the spool geometry (multi-layer winding) and the hanging cable (stretch
under the measured tension, wet weights below the liquid level). No I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property


@dataclass(frozen=True)
class Drum:
    """A drum wound in layers; all of `cable_length_m` is on the drum when parked."""

    drum_radius_m: float
    cable_diameter_m: float
    turns_per_layer: int
    cable_length_m: float

    def layer_radius_m(self, layer: int) -> float:
        return self.drum_radius_m + (layer + 0.5) * self.cable_diameter_m

    def _layer_length_m(self, layer: int) -> float:
        return 2 * math.pi * self.layer_radius_m(layer) * self.turns_per_layer

    def _full_layers_length_m(self, layers: int) -> float:
        """Cable in the first `layers` full layers: the sum of their lengths, in closed form."""
        mean_radius_sum_m = layers * self.drum_radius_m + self.cable_diameter_m * layers**2 / 2
        return 2 * math.pi * self.turns_per_layer * mean_radius_sum_m

    def wound_length_m(self, turns: float) -> float:
        """Cable on the drum after winding `turns` turns onto the bare drum."""
        full = max(0, int(turns // self.turns_per_layer))
        return self._full_layers_length_m(full) + 2 * math.pi * self.layer_radius_m(full) * (
            turns - full * self.turns_per_layer
        )

    def turns_for_wound(self, length_m: float) -> float:
        """Inverse of wound_length_m."""
        turns, layer = 0.0, 0
        while True:
            layer_len = self._layer_length_m(layer)
            if length_m <= layer_len or layer > 10_000:
                return turns + length_m / (2 * math.pi * self.layer_radius_m(layer))
            length_m -= layer_len
            turns += self.turns_per_layer
            layer += 1

    @cached_property
    def parked_turns(self) -> float:
        """Turns on the drum when parked (computed once: the drum is immutable)."""
        return self.turns_for_wound(self.cable_length_m)

    def paid_out_m(self, rev: float) -> float:
        """Cable paid out after unwinding `rev` revolutions from parked (outer layers first)."""
        return self.cable_length_m - self.wound_length_m(self.parked_turns - rev)

    def rev_for_paid_out(self, paid_out_m: float) -> float:
        return self.parked_turns - self.turns_for_wound(self.cable_length_m - paid_out_m)

    def metres_per_rev(self, rev: float) -> float:
        """Local cable speed per drum revolution (for speeds and accelerations)."""
        turns = self.parked_turns - rev
        layer = max(0, int(turns // self.turns_per_layer))
        return 2 * math.pi * self.layer_radius_m(layer)


@dataclass(frozen=True)
class HangingCable:
    """The cable hanging from the spool at z_park_m, the source at its end."""

    z_park_m: float
    z_liquid_m: float
    ea_n: float
    weight_air_n_m: float
    weight_liquid_n_m: float
    source_air_n: float
    source_liquid_n: float

    @property
    def air_length_m(self) -> float:
        return max(0.0, self.z_park_m - self.z_liquid_m)

    def cable_weight_n(self, length_m: float) -> float:
        """Apparent weight of `length_m` of cable hanging from the spool."""
        dry = min(length_m, self.air_length_m)
        return self.weight_air_n_m * dry + self.weight_liquid_n_m * max(0.0, length_m - dry)

    def expected_tension_n(self, length_m: float) -> float:
        """Tension at the load cell for the source hanging free at `length_m` below park."""
        in_liquid = self.z_park_m - length_m < self.z_liquid_m
        source = self.source_liquid_n if in_liquid else self.source_air_n
        return source + self.cable_weight_n(max(0.0, length_m))

    def _weight_moment(self, length_m: float) -> float:
        """Integral over s in [0, L] of the cable weight above depth s."""
        a = self.air_length_m
        if length_m <= a:
            return self.weight_air_n_m * length_m**2 / 2
        wet = length_m - a
        return (
            self.weight_air_n_m * a**2 / 2
            + self.weight_air_n_m * a * wet
            + self.weight_liquid_n_m * wet**2 / 2
        )

    def stretch_m(self, length_m: float, top_tension_n: float) -> float:
        """Elastic stretch of `length_m` of cable whose top tension is `top_tension_n`."""
        if length_m <= 0:
            return 0.0
        return (top_tension_n * length_m - self._weight_moment(length_m)) / self.ea_n


@dataclass(frozen=True)
class SpoolModel:
    drum: Drum
    cable: HangingCable

    def z_m(self, rev: float, tension_n: float) -> float:
        """Source height from drum revolutions (0 = parked) and the measured top tension."""
        paid = self.drum.paid_out_m(rev)
        return self.cable.z_park_m - paid - self.cable.stretch_m(paid, tension_n)

    def rev_for_z(self, z_m: float) -> float:
        """Drum revolutions that put a freely hanging source at `z_m`."""
        total = self.cable.z_park_m - z_m
        paid = total
        for _ in range(4):
            paid = total - self.cable.stretch_m(paid, self.cable.expected_tension_n(paid))
        return self.drum.rev_for_paid_out(paid)

    def expected_tension_n(self, rev: float) -> float:
        return self.cable.expected_tension_n(self.drum.paid_out_m(rev))
