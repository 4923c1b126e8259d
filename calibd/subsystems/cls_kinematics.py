"""CLS kinematics: drum revolutions + measured tension -> source (x, z), and back.

Forward: the central cable pays out down the chimney; while its free length below the chimney
exit C is <= 0 the source hangs in the chimney on the axis. Below C the source is at the
junction of two elastic catenaries in equilibrium under the source's wet weight, so the sag and
stretch the straight-line model misses are accounted for. The wet weight is not taken from the
config: every deploy weighs the source with the measured central tension while it hangs in the
chimney at its exit (the true weight differs from the nominal one).
Inverse: Newton on the two free lengths through the forward model. Pure, no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from calibd.cfg_cls import ClsCfg
from calibd.core.spool import Drum
from calibd.subsystems.cls_catenary import Loop, Vec, newton, span

Point = tuple[float, float]
SAG_NEAR_ANCHOR_M = 1.0  # the side cable may dip to the wall this close to its pulley
EXIT_M = 0.5  # central cable below C at the start of every in-detector path


@dataclass(frozen=True)
class Pose:
    x_m: float
    z_m: float
    in_chimney: bool


class ClsModel:
    """The daemon's model of one loop (stateful only through warm starts and `w_src_n`)."""

    def __init__(self, cfg: ClsCfg) -> None:
        self.cfg = cfg
        self.loop = Loop.from_cfg(cfg)
        sp, ss = cfg.spool, cfg.side_spool
        self.central_drum = Drum(
            sp.drum_radius_m, sp.cable_diameter_m, sp.turns_per_layer, sp.cable_length_m
        )
        self.side_drum = Drum(
            ss.drum_radius_m, ss.cable_diameter_m, ss.turns_per_layer, ss.cable_length_m
        )
        self._side_rev0 = self.side_drum.rev_for_paid_out(cfg.side_park_paid_out_m)
        self.chimney_m = cfg.z_park_m - cfg.chimney_exit_z_m
        self.follow_m = self.loop.follow_length_m(cfg.side_follow_h_n)
        self.side_park_beyond_m = self.follow_m + self.chimney_m
        #: wet weight of the source: nominal until measured from the tensions
        self.w_src_n = sp.source_weight_liquid_n
        self._warm_j: Vec | None = None
        self._warm_inv: Vec | None = None

    # ---- drums -------------------------------------------------------------------------------

    def side_wound_in_m(self, rev: float) -> float:
        """Side cable wound in since parked (the side spool winds in for positive revs)."""
        p0 = self.cfg.side_park_paid_out_m
        return p0 - self.side_drum.paid_out_m(self._side_rev0 - rev)

    def side_rev_at(self, wound_in_m: float) -> float:
        p0 = self.cfg.side_park_paid_out_m
        return self._side_rev0 - self.side_drum.rev_for_paid_out(p0 - wound_in_m)

    def lengths(self, rev_c: float, rev_s: float) -> tuple[float, float]:
        """(central free length below C, side length beyond A), unstretched."""
        free_c = self.central_drum.paid_out_m(rev_c) - self.chimney_m
        return free_c, self.side_park_beyond_m - self.side_wound_in_m(rev_s)

    def revs(self, free_c: float, beyond_a: float) -> tuple[float, float]:
        rev_c = self.central_drum.rev_for_paid_out(free_c + self.chimney_m)
        return rev_c, self.side_rev_at(self.side_park_beyond_m - beyond_a)

    def revs_in_chimney(self, z_m: float) -> tuple[float, float]:
        """Both spools for the source at `z_m` in the chimney, the side cable following."""
        paid = self.cfg.z_park_m - z_m
        return self.central_drum.rev_for_paid_out(paid), self.side_rev_at(paid)

    # ---- forward -----------------------------------------------------------------------------

    def _junction(self, lc: float, la: float, w_src: float) -> Vec:
        u = self.loop.junction(lc, la, w_src, self._warm_j)
        self._warm_j = u
        return u

    def pose(self, rev_c: float, rev_s: float) -> Pose:
        """Source position for the weighed source (`w_src_n`)."""
        lc, la = self.lengths(rev_c, rev_s)
        if lc <= 0:
            return Pose(0.0, self.cfg.z_park_m - max(lc + self.chimney_m, 0.0), True)
        try:
            u = self._junction(lc, la, self.w_src_n)
        except ArithmeticError:
            if lc > EXIT_M:
                raise
            # just below the exit the equilibrium is stiff to solve: hanging under C
            return Pose(0.0, self.loop.c_z - lc, False)
        return Pose(*self.loop.junction_point(lc, u), False)

    def weight_in_chimney(self, rev_c: float, rev_s: float, central_n: float) -> float:
        """Wet source weight from the central tension, the source hanging in the chimney."""
        lp = self.loop
        lc, la = self.lengths(rev_c, rev_s)
        z_src = self.cfg.z_park_m - max(lc + self.chimney_m, 0.0)
        h_chim = z_src - lp.c_z
        u = lp.ac_catenary(la - h_chim)
        t_c = math.hypot(math.exp(u[0]), u[1] + lp.w_liq_n_m * (la - h_chim))
        side_up = t_c + lp.vertical_weight_n(z_src, lp.c_z)
        return central_n - side_up - lp.vertical_weight_n(lp.z_park_m, z_src)

    def expected_tensions(self, rev_c: float, rev_s: float) -> tuple[float, float]:
        """Spool tensions of a freely hanging source of weight `w_src_n` (for protections)."""
        lp = self.loop
        lc, la = self.lengths(rev_c, rev_s)
        side_extra = lp.vertical_weight_n(lp.z_park_m, lp.a_z)
        if lc > 0:
            try:
                u = self._junction(lc, la, self.w_src_n)
            except ArithmeticError:
                if lc > EXIT_M:
                    raise
                u = None  # just below the exit: the tensions are those of the source at C
            if u is not None:
                tc, ta = lp.junction_tensions(lc, la, self.w_src_n, u)
                return tc + lp.vertical_weight_n(lp.z_park_m, lp.c_z), ta + side_extra
        z_src = self.cfg.z_park_m - max(lc + self.chimney_m, 0.0)
        h_chim = max(z_src - lp.c_z, 0.0)
        ac = lp.ac_catenary(la - h_chim)
        h, va = math.exp(ac[0]), ac[1]
        t_c = math.hypot(h, va + lp.w_liq_n_m * (la - h_chim))
        ratio = self.cfg.spool.source_weight_air_n / self.cfg.spool.source_weight_liquid_n
        w_src = self.w_src_n * (ratio if z_src > lp.z_liquid_m else 1.0)
        central = w_src + t_c + lp.vertical_weight_n(lp.z_park_m, lp.c_z)
        return central, math.hypot(h, va) + side_extra

    # ---- inverse -----------------------------------------------------------------------------

    def lengths_for(self, x_m: float, z_m: float) -> tuple[float, float]:
        """(central free length, side length beyond A) that put the source at (x, z)."""
        lp = self.loop
        lc0 = math.hypot(x_m - lp.c_x, z_m - lp.c_z)
        la0 = math.hypot(x_m - lp.a_x, z_m - lp.a_z)

        def res(v: Vec) -> Vec:
            u = self._junction(v[0], v[1], self.w_src_n)
            px, pz = lp.junction_point(v[0], u)
            return [px - x_m, pz - z_m]

        guesses = [[lc0, la0]] + ([self._warm_inv] if self._warm_inv is not None else [])
        for g in guesses:
            try:
                lc, la = newton(res, g, tol=1e-8)
            except ArithmeticError:
                continue
            self._warm_inv = [lc, la]
            return lc, la
        raise ArithmeticError(f"no cable lengths reach ({x_m}, {z_m})")

    def revs_for(self, x_m: float, z_m: float) -> tuple[float, float]:
        return self.revs(*self.lengths_for(x_m, z_m))

    def support_tensions(self, lc: float, la: float) -> tuple[float, float]:
        """Tensions at C and at A of the free-hanging source."""
        u = self._junction(lc, la, self.w_src_n)
        return self.loop.junction_tensions(lc, la, self.w_src_n, u)

    # ---- workspace ---------------------------------------------------------------------------

    def check_point(self, x_m: float, z_m: float) -> str | None:
        """Why (x, z) is outside the reachable workspace (None: reachable)."""
        cfg, lp = self.cfg, self.loop
        if not x_m * lp.side_sign > 0:
            side = "x > 0" if lp.side_sign > 0 else "x < 0"
            return f"({x_m}, {z_m}) is not in this loop's half-plane ({side})"
        r_max = cfg.sphere_radius_m - cfg.wall_clearance_m
        if math.hypot(x_m, z_m) > r_max:
            return f"({x_m}, {z_m}) is closer than {cfg.wall_clearance_m} m to the acrylic"
        try:
            lc, la = self.lengths_for(x_m, z_m)
            tc, ta = self.support_tensions(lc, la)
        except ArithmeticError:
            return f"({x_m}, {z_m}): no static equilibrium of the source there"
        low = self.lowest_point(lc, la)
        near_anchor = math.hypot(low[0] - lp.a_x, low[1] - lp.a_z) < SAG_NEAR_ANCHOR_M
        if math.hypot(*low) > cfg.sphere_radius_m - 0.02 and not near_anchor:
            return f"({x_m}, {z_m}): the side cable would sag onto the acrylic"
        lo, hi = cfg.tension_min_n, cfg.tension_max_n
        for name, t in (("central", tc), ("side", ta)):
            if not lo <= t <= hi:
                return f"({x_m}, {z_m}): {name} tension {t:.2f} N outside [{lo}, {hi}] N"
        rev_c, rev_s = self.revs(lc, la)
        paid_max = self.central_drum.cable_length_m - 1.0
        side_min = self.cfg.side_park_paid_out_m - self.side_drum.cable_length_m + 1.0
        side_max = self.cfg.side_park_paid_out_m - 0.5
        if not 0 < self.central_drum.paid_out_m(rev_c) < paid_max or not (
            side_min < self.side_wound_in_m(rev_s) < side_max
        ):
            return f"({x_m}, {z_m}): beyond the cable on the spools"
        return None

    def lowest_point(self, lc: float, la: float) -> Point:
        """Lowest point of the side cable (the junction unless the cable dips below it)."""
        lp = self.loop
        u = self._junction(lc, la, self.w_src_n)
        sx, sz = lp.junction_point(lc, u)
        va = self.w_src_n - u[1]
        s_low = -va / lp.w_liq_n_m
        if va >= 0 or s_low >= la:  # rises from the junction, or falls all the way to A
            return sx, sz
        dx, dz = span(s_low, math.exp(u[0]), va, lp.w_liq_n_m, lp.ea_n)
        return sx + lp.side_sign * dx, sz + dz

    def plan(self, start: Point, end: Point) -> list[Point] | str:
        """Waypoints from `start` to `end`: the straight path, else through one via point at
        the height of the higher end (first across, then down); a reason if none works."""
        why = self.check_path(start, end)
        if why is None:
            return self.waypoints(start, end)
        for via in ((end[0], start[1]), (start[0], end[1])):
            if self.check_path(start, via) is None and self.check_path(via, end) is None:
                return self.waypoints(start, via) + self.waypoints(via, end)
        return why

    def waypoints(self, start: Point, end: Point) -> list[Point]:
        """Points every <= waypoint_step_m along the straight segment, `end` included."""
        dist = math.hypot(end[0] - start[0], end[1] - start[1])
        n = max(1, math.ceil(dist / self.cfg.waypoint_step_m))
        return [
            (start[0] + (end[0] - start[0]) * k / n, start[1] + (end[1] - start[1]) * k / n)
            for k in range(1, n + 1)
        ]

    def check_path(self, start: Point, end: Point, step_m: float = 0.5) -> str | None:
        """The first point of the straight path (every `step_m`) outside the workspace."""
        dist = math.hypot(end[0] - start[0], end[1] - start[1])
        n = max(1, math.ceil(dist / step_m))
        for k in range(1, n + 1):
            px = start[0] + (end[0] - start[0]) * k / n
            pz = start[1] + (end[1] - start[1]) * k / n
            why = self.check_point(px, pz)
            if why is not None:
                return f"path leaves the workspace: {why}"
        return None

    def exit_revs(self) -> tuple[float, float]:
        """Drum positions just below the chimney exit: central paid EXIT_M beyond C, the side
        cable at its follow length (where every deploy path starts, every retract path ends)."""
        return self.revs(EXIT_M, self.follow_m)

    def exit_point(self) -> Point:
        pose = self.pose(*self.exit_revs())
        return pose.x_m, pose.z_m
