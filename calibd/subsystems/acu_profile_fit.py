"""The pure pieces of a temperature profile (calibd/subsystems/acu_profile.py): the z of a
reading between two position polls, and the online least-squares line T(z)."""

from __future__ import annotations

from dataclasses import dataclass


def interpolate(t0_s: float, z0_m: float, t1_s: float, z1_m: float, t_s: float) -> float:
    """z at `t_s` on the straight line through two position readings."""
    if t1_s <= t0_s:
        return z1_m
    return z0_m + (z1_m - z0_m) * (t_s - t0_s) / (t1_s - t0_s)


@dataclass
class Fit:
    """Online least squares T = intercept + gradient·z (sums about the first sample)."""

    n: int = 0
    z0: float = 0.0
    t0: float = 0.0
    sz: float = 0.0
    st: float = 0.0
    szz: float = 0.0
    szt: float = 0.0
    z_min_m: float | None = None
    z_max_m: float | None = None

    def add(self, z_m: float, t_c: float) -> None:
        if self.n == 0:
            self.z0, self.t0 = z_m, t_c
        self.n += 1
        dz, dt = z_m - self.z0, t_c - self.t0
        self.sz += dz
        self.st += dt
        self.szz += dz * dz
        self.szt += dz * dt
        self.z_min_m = z_m if self.z_min_m is None else min(self.z_min_m, z_m)
        self.z_max_m = z_m if self.z_max_m is None else max(self.z_max_m, z_m)

    def summary(self) -> dict[str, float | None]:
        """`gradient_c_m`, `intercept_c` (at z = 0), `mean_c`, `z_min_m`, `z_max_m`."""
        n = self.n
        var = self.szz - self.sz * self.sz / n if n else 0.0
        slope = (self.szt - self.sz * self.st / n) / var if n >= 2 and var > 0 else None
        mean = self.t0 + self.st / n if n else None
        intercept = None
        if slope is not None and mean is not None:
            intercept = mean - slope * (self.z0 + self.sz / n)
        return {
            "gradient_c_m": _round(slope, 6),
            "intercept_c": _round(intercept, 4),
            "mean_c": _round(mean, 4),
            "z_min_m": _round(self.z_min_m, 5),
            "z_max_m": _round(self.z_max_m, 5),
        }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
