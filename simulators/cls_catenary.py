"""CLS catenary statics: the elastic catenary (Irvine's closed form), a damped Newton solver,
and one loop's geometry with its two equilibria (the A -> C catenary with the source in the
chimney, the junction of both catenaries with the source in the detector). Pure; no state.

Plane y = 0 of the detector frame. The central cable hangs from the chimney exit C, the side
cable from the anchor pulley A on the inner acrylic wall; the source hangs at their junction.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from simulators.config_cls import ClsCfg

Vec = list[float]
_LN_H_MIN, _LN_H_MAX = -14.0, 12.0


def span(
    length_m: float, h_n: float, v0_n: float, w_n_m: float, ea_n: float
) -> tuple[float, float]:
    """(dx, dz) from the end P to the end Q of an elastic catenary of unstretched length
    `length_m`, whose tension at P points towards Q with horizontal `h_n` and vertical `v0_n`
    components (Irvine's closed form; the vertical component grows by w per metre)."""
    v1 = v0_n + w_n_m * length_m
    t0, t1 = math.hypot(h_n, v0_n), math.hypot(h_n, v1)
    dx = h_n * length_m / ea_n + h_n / w_n_m * (math.asinh(v1 / h_n) - math.asinh(v0_n / h_n))
    dz = (v0_n * length_m + w_n_m * length_m**2 / 2) / ea_n + (t1 - t0) / w_n_m
    return dx, dz


def _solve_linear(a: list[Vec], b: Vec) -> Vec:
    """Gaussian elimination with partial pivoting (tiny systems)."""
    n = len(b)
    m = [[*row, b[i]] for i, row in enumerate(a)]
    for col in range(n):
        piv = max(range(col, n), key=lambda r: abs(m[r][col]))
        if abs(m[piv][col]) < 1e-300:
            raise ArithmeticError("singular Jacobian")
        m[col], m[piv] = m[piv], m[col]
        for r in range(col + 1, n):
            f = m[r][col] / m[col][col]
            for c in range(col, n + 1):
                m[r][c] -= f * m[col][c]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        x[r] = (m[r][n] - sum(m[r][c] * x[c] for c in range(r + 1, n))) / m[r][r]
    return x


def newton(
    f: Callable[[Vec], Vec], x0: Sequence[float], *, tol: float = 1e-10, max_iter: int = 60
) -> Vec:
    """Damped Newton with a finite-difference Jacobian; ArithmeticError if it fails."""
    x = list(x0)
    r = f(x)
    norm = math.sqrt(sum(v * v for v in r))
    for _ in range(max_iter):
        if norm <= tol:
            return x
        jac: list[Vec] = [[0.0] * len(x) for _ in r]
        for j in range(len(x)):
            h = 1e-7 * max(1.0, abs(x[j]))
            xp = x[:]
            xp[j] += h
            rp = f(xp)
            for i in range(len(r)):
                jac[i][j] = (rp[i] - r[i]) / h
        step = _solve_linear(jac, [-v for v in r])
        lam = 1.0
        for _ in range(40):
            xn = [xi + lam * si for xi, si in zip(x, step, strict=True)]
            try:
                rn = f(xn)
            except (ValueError, OverflowError, ZeroDivisionError):
                lam /= 2
                continue
            nn = math.sqrt(sum(v * v for v in rn))
            if nn < norm or nn <= tol:
                x, r, norm = xn, rn, nn
                break
            lam /= 2
        else:
            raise ArithmeticError(f"no descent (residual {norm:.3g})")
    if norm <= tol * 100:
        return x
    raise ArithmeticError(f"did not converge (residual {norm:.3g})")


def _clamp_ln(v: float) -> float:
    return min(max(v, _LN_H_MIN), _LN_H_MAX)


@dataclass(frozen=True)
class Loop:
    """Geometry and cable of one loop."""

    c_x: float
    c_z: float
    a_x: float
    a_z: float
    z_park_m: float
    z_liquid_m: float
    w_air_n_m: float
    w_liq_n_m: float
    ea_n: float

    @classmethod
    def from_cfg(cls, cfg: ClsCfg) -> Loop:
        """Anchor on the inner wall at `anchor_angle_deg` from vertical (signed: + is x > 0)."""
        ang = math.radians(cfg.anchor_angle_deg)
        r = cfg.sphere_radius_m
        sp = cfg.spool
        return cls(
            c_x=0.0,
            c_z=cfg.chimney_exit_z_m,
            a_x=r * math.sin(ang),
            a_z=r * math.cos(ang),
            z_park_m=cfg.z_park_m,
            z_liquid_m=cfg.z_liquid_m,
            w_air_n_m=sp.cable_weight_air_n_m,
            w_liq_n_m=sp.cable_weight_liquid_n_m,
            ea_n=sp.cable_ea_n,
        )

    @property
    def side_sign(self) -> float:
        return 1.0 if self.a_x > self.c_x else -1.0

    def vertical_weight_n(self, z_top: float, z_bottom: float) -> float:
        """Weight of a vertical cable between two heights (dry above the liquid level)."""
        if z_top <= z_bottom:
            return 0.0
        dry = max(0.0, z_top - max(z_bottom, self.z_liquid_m))
        return self.w_air_n_m * dry + self.w_liq_n_m * (z_top - z_bottom - dry)

    # ---- the A -> C catenary (source in the chimney) ----------------------------------------

    def _ac_guess(self, length_m: float) -> Vec:
        dx, dz = abs(self.c_x - self.a_x), self.c_z - self.a_z
        chord = math.hypot(dx, dz)
        w = self.w_liq_n_m
        if length_m <= chord * 1.0001:
            h = max(self.ea_n * (chord / max(length_m, 1e-3) - 1.0), 1.0) * dx / chord
        else:
            sag = math.sqrt(3 * chord * (length_m - chord) / 8)
            h = w * chord**2 / (8 * sag)
        return [math.log(h), h * dz / dx - w * length_m / 2]

    def ac_catenary(self, length_m: float, warm: Vec | None = None) -> Vec:
        """[ln H, V_A] of the side cable hanging from A to C with `length_m` (unstretched)."""
        dx, dz = abs(self.c_x - self.a_x), self.c_z - self.a_z

        def res(u: Vec) -> Vec:
            sx, sz = span(length_m, math.exp(_clamp_ln(u[0])), u[1], self.w_liq_n_m, self.ea_n)
            return [sx - dx, sz - dz]

        for guess in (warm, self._ac_guess(length_m)):
            if guess is None:
                continue
            try:
                return newton(res, guess)
            except ArithmeticError:
                continue
        raise ArithmeticError(f"no A-C catenary for {length_m:.3f} m")

    def follow_length_m(self, h_n: float) -> float:
        """Unstretched length of the A -> C catenary whose horizontal tension is `h_n`."""
        dx, dz = abs(self.c_x - self.a_x), self.c_z - self.a_z
        chord = math.hypot(dx, dz)

        def res(u: Vec) -> Vec:
            sx, sz = span(u[0], h_n, u[1], self.w_liq_n_m, self.ea_n)
            return [sx - dx, sz - dz]

        length0 = chord * 1.01
        return newton(res, [length0, h_n * dz / dx - self.w_liq_n_m * length0 / 2])[0]

    # ---- the junction (source in the detector) ----------------------------------------------

    def junction_residual(self, lc: float, la: float, w_src: float, u: Vec) -> Vec:
        """Closure of the two catenaries for unknowns u = [ln H, V_c]."""
        h = math.exp(_clamp_ln(u[0]))
        dxc, dzc = span(lc, h, u[1], self.w_liq_n_m, self.ea_n)
        dxa, dza = span(la, h, w_src - u[1], self.w_liq_n_m, self.ea_n)
        return [dxc + dxa - abs(self.a_x - self.c_x), dza - dzc - (self.a_z - self.c_z)]

    def junction_guess(self, lc: float, la: float, w_src: float) -> Vec:
        """Weightless-cable statics at the intersection of the two length circles."""
        s = self.side_sign
        d = math.hypot(self.a_x - self.c_x, self.a_z - self.c_z)
        ex, ez = (self.a_x - self.c_x) / d, (self.a_z - self.c_z) / d
        nx, nz = (-ez, ex) if s > 0 else (ez, -ex)  # normal pointing below the C-A line
        if nz > 0:
            nx, nz = -nx, -nz
        lc_, la_ = max(lc, 1e-3), max(la, 1e-3)
        along = (d * d + lc_ * lc_ - la_ * la_) / (2 * d)
        off = math.sqrt(max(lc_ * lc_ - along * along, (0.02 * d) ** 2))
        px, pz = self.c_x + along * ex + off * nx, self.c_z + along * ez + off * nz
        ucx, ucz = self.c_x - px, self.c_z - pz
        uax, uaz = self.a_x - px, self.a_z - pz
        nc, na = math.hypot(ucx, ucz), math.hypot(uax, uaz)
        ucx, ucz, uax, uaz = ucx / nc, ucz / nc, uax / na, uaz / na
        load = w_src + self.w_liq_n_m * (lc + la) / 2
        det = ucx * uaz - uax * ucz
        tc = -uax * load / det if abs(det) > 1e-9 else load
        h = max(abs(tc * ucx), 0.05)
        return [math.log(h), max(min(tc * ucz - self.w_liq_n_m * lc / 2, w_src), 0.0)]

    def junction(self, lc: float, la: float, w_src: float, warm: Vec | None = None) -> Vec:
        """[ln H, V_c] of the junction equilibrium for free lengths beyond C and A."""
        spread = [[math.log(h), f * w_src] for h in (0.3, 1.0, 3.0) for f in (0.5, 0.9, 0.1)]
        for guess in (warm, self.junction_guess(lc, la, w_src), *spread):
            if guess is None:
                continue
            try:
                return newton(lambda u: self.junction_residual(lc, la, w_src, u), guess)
            except ArithmeticError:
                continue
        raise ArithmeticError(f"no junction equilibrium for lc={lc:.3f} la={la:.3f}")

    def junction_point(self, lc: float, u: Vec) -> tuple[float, float]:
        dxc, dzc = span(lc, math.exp(u[0]), u[1], self.w_liq_n_m, self.ea_n)
        return self.c_x + self.side_sign * dxc, self.c_z - dzc

    def junction_tensions(self, lc: float, la: float, w_src: float, u: Vec) -> tuple[float, float]:
        """Top tensions at C and at A (not yet the spools)."""
        h, vc = math.exp(u[0]), u[1]
        w = self.w_liq_n_m
        return math.hypot(h, vc + w * lc), math.hypot(h, w_src - vc + w * la)
