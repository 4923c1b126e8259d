"""CLS physics: one loop's paid-out lengths -> source position and spool tensions.

Every cable segment is an elastic catenary with its wet weight per metre and its EA
(``cls_catenary``); the junction is in equilibrium under both cable tensions and the source's
wet weight. Above C the source hangs on the central cable in the chimney and the side cable runs
A -> C -> up the chimney to the source. Stateful (warm starts, the gate-valve stop); no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from simulators.cls_catenary import Loop, Vec
from simulators.config_cls import ClsCfg
from simulators.spool import Drum

#: the true wet weight of the source is this much above its nominal (connector, trapped gas
#: displaced by LS...): the daemon must estimate it from the measured tensions
TRUE_WEIGHT_FACTOR = 1.06
SUSPECT_TENSION_FACTOR = 10.0


@dataclass(frozen=True)
class LoopState:
    """The true state of one loop."""

    x_m: float
    z_m: float
    central_n: float
    side_n: float
    in_chimney: bool
    on_valve: bool


class LoopPhysics:
    """One loop: paid-out lengths -> source position and spool tensions (stateful: warm
    starts and the gate-valve stop)."""

    def __init__(self, cfg: ClsCfg, weight_factor: float = TRUE_WEIGHT_FACTOR) -> None:
        self.loop = Loop.from_cfg(cfg)
        self.z_valve_m = cfg.z_valve_m
        self.central_drum = Drum.from_cfg(cfg.spool)
        self.side_drum = Drum.from_cfg(cfg.side_spool)
        self.side_park_paid_out_m = cfg.side_park_paid_out_m
        self._side_rev0 = self.side_drum.revs_at(cfg.side_park_paid_out_m)
        self.w_src_liq_n = cfg.spool.source_weight_liquid_n * weight_factor
        self.w_src_air_n = cfg.spool.source_weight_air_n * weight_factor
        self.chimney_m = cfg.z_park_m - cfg.chimney_exit_z_m
        self.side_park_beyond_m = self.loop.follow_length_m(cfg.side_follow_h_n) + self.chimney_m
        self._below_valve = False
        self._warm_ac: Vec | None = None
        self._warm_j: Vec | None = None

    def side_wound_in_m(self, rev: float) -> float:
        """Side cable wound in (positive rev) since the parked position."""
        return self.side_park_paid_out_m - self.side_drum.paid_out_m(self._side_rev0 - rev)

    def side_rev_at(self, wound_in_m: float) -> float:
        return self._side_rev0 - self.side_drum.revs_at(self.side_park_paid_out_m - wound_in_m)

    def state(self, central_rev: float, side_rev: float, valve_open: bool) -> LoopState:
        """Source position and spool tensions for drum positions (revs from parked)."""
        lp = self.loop
        paid_c = self.central_drum.paid_out_m(central_rev)
        beyond_a = self.side_park_beyond_m - self.side_wound_in_m(side_rev)
        free_c = paid_c - self.chimney_m
        if free_c > 0:
            self._below_valve = True
            u = lp.junction(free_c, beyond_a, self.w_src_liq_n, self._warm_j)
            tc, ta = lp.junction_tensions(free_c, beyond_a, self.w_src_liq_n, u)
            if max(tc, ta) > SUSPECT_TENSION_FACTOR * self.w_src_liq_n:
                # a far warm start may land on a spurious taut root: solve again from cold
                u = lp.junction(free_c, beyond_a, self.w_src_liq_n)
                tc, ta = lp.junction_tensions(free_c, beyond_a, self.w_src_liq_n, u)
            self._warm_j = u
            x, z = lp.junction_point(free_c, u)
            return LoopState(
                x,
                z,
                tc + lp.vertical_weight_n(lp.z_park_m, lp.c_z),
                ta + lp.vertical_weight_n(lp.z_park_m, lp.a_z),
                in_chimney=False,
                on_valve=False,
            )
        z = lp.z_park_m - max(paid_c, 0.0)
        if z >= self.z_valve_m:
            self._below_valve = False
        elif valve_open:
            self._below_valve = True
        on_valve = z < self.z_valve_m and not self._below_valve
        z_src = self.z_valve_m if on_valve else z
        h_chim = z_src - lp.c_z
        u = lp.ac_catenary(beyond_a - h_chim, self._warm_ac)
        self._warm_ac = u
        h, va = math.exp(u[0]), u[1]
        t_a = math.hypot(h, va)
        t_c = math.hypot(h, va + lp.w_liq_n_m * (beyond_a - h_chim))
        side_up = t_c + lp.vertical_weight_n(z_src, lp.c_z)
        w_src = self.w_src_air_n if z_src > lp.z_liquid_m else self.w_src_liq_n
        above = lp.vertical_weight_n(lp.z_park_m, z_src)
        central = above if on_valve else w_src + side_up + above
        return LoopState(
            0.0,
            z_src,
            central,
            t_a + lp.vertical_weight_n(lp.z_park_m, lp.a_z),
            in_chimney=True,
            on_valve=on_valve,
        )
