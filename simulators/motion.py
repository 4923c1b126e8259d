"""Analytic motion profiles (trapezoidal moves, stops, jogs) as constant-acceleration segments."""

from __future__ import annotations

import math
from dataclasses import dataclass

EPS = 1e-9


@dataclass(frozen=True)
class Segment:
    """Constant acceleration from ``t0_s`` for ``dur_s`` (may be infinite)."""

    t0_s: float
    x0: float
    v0: float
    a: float
    dur_s: float

    def at(self, t_s: float) -> tuple[float, float]:
        """(position, velocity) at ``t_s``, clamped to the segment."""
        tau = min(max(t_s - self.t0_s, 0.0), self.dur_s)
        return self.x0 + self.v0 * tau + 0.5 * self.a * tau * tau, self.v0 + self.a * tau

    @property
    def end(self) -> tuple[float, float, float]:
        """(time, position, velocity) at the segment's end."""
        x, v = self.at(self.t0_s + self.dur_s)
        return self.t0_s + self.dur_s, x, v

    def first_time_at(self, x: float, after_s: float) -> float | None:
        """First time ≥ ``after_s`` inside the segment at which the position equals ``x``."""
        lo = max(after_s - self.t0_s, 0.0)
        if lo > self.dur_s:
            return None
        c = self.x0 - x
        roots: list[float] = []
        if abs(self.a) < EPS:
            if abs(self.v0) < EPS:
                roots = [lo] if abs(c) < EPS else []
            else:
                roots = [-c / self.v0]
        else:
            disc = self.v0 * self.v0 - 2 * self.a * c
            if disc >= 0:
                sq = math.sqrt(disc)
                roots = sorted(((-self.v0 - sq) / self.a, (-self.v0 + sq) / self.a))
        for tau in roots:
            if lo - EPS <= tau <= self.dur_s + EPS:
                return self.t0_s + max(tau, lo)
        return None


@dataclass(frozen=True)
class Profile:
    """A sequence of segments; the last one lasts forever (standstill or constant jog)."""

    segments: tuple[Segment, ...]

    def _segment(self, t_s: float) -> Segment:
        for seg in reversed(self.segments):
            if t_s >= seg.t0_s:
                return seg
        return self.segments[0]

    def state(self, t_s: float) -> tuple[float, float]:
        """(position, velocity) at ``t_s``."""
        return self._segment(t_s).at(t_s)

    @property
    def end_s(self) -> float:
        """When motion ends (infinite for a jog)."""
        last = self.segments[-1]
        return math.inf if abs(last.v0) > EPS else last.t0_s

    def moving(self, t_s: float) -> bool:
        """True before the profile comes to standstill."""
        return t_s < self.end_s

    def first_time_at(self, x: float, after_s: float) -> float | None:
        """First time ≥ ``after_s`` at which the position equals ``x``."""
        for seg in self.segments:
            if seg.t0_s + seg.dur_s < after_s:
                continue
            hit = seg.first_time_at(x, after_s)
            if hit is not None:
                return hit
        return None


def standstill(t_s: float, x: float) -> Profile:
    """Stand still at ``x``."""
    return Profile((Segment(t_s, x, 0.0, 0.0, math.inf),))


def _append(segs: list[Segment], t_s: float, x: float, v: float, a: float, dur_s: float) -> None:
    if dur_s > EPS:
        segs.append(Segment(t_s, x, v, a, dur_s))


def plan_stop(t_s: float, x: float, v: float, accel: float) -> Profile:
    """Decelerate at ``accel`` to standstill (immediately if ``accel`` is 0)."""
    if abs(v) < EPS or accel <= 0:
        return standstill(t_s, x)
    dur_s = abs(v) / accel
    seg = Segment(t_s, x, v, -math.copysign(accel, v), dur_s)
    t_end, x_end, _ = seg.end
    return Profile((seg, Segment(t_end, x_end, 0.0, 0.0, math.inf)))


def plan_jog(t_s: float, x: float, v: float, velocity: float, accel: float) -> Profile:
    """Ramp to a constant ``velocity`` and keep it."""
    segs: list[Segment] = []
    if accel > 0 and abs(velocity - v) > EPS:
        dur_s = abs(velocity - v) / accel
        seg = Segment(t_s, x, v, math.copysign(accel, velocity - v), dur_s)
        segs.append(seg)
        t_s, x, _ = seg.end
    segs.append(Segment(t_s, x, velocity, 0.0, math.inf))
    return Profile(tuple(segs))


def plan_move(t_s: float, x: float, v: float, target: float, vmax: float, accel: float) -> Profile:
    """Trapezoidal (or triangular) move to ``target`` from any state (re-targeting allowed)."""
    if vmax <= 0 or accel <= 0:
        return plan_stop(t_s, x, v, accel)
    segs: list[Segment] = []
    dist = target - x
    direction = math.copysign(1.0, dist) if abs(dist) > EPS else 0.0
    if abs(v) > EPS and (
        direction == 0.0 or math.copysign(1.0, v) != direction or v * v / (2 * accel) > abs(dist)
    ):
        # Wrong way or too fast to stop in time: stop first, then come back.
        stop = plan_stop(t_s, x, v, accel).segments[0]
        segs.append(stop)
        t_s, x, v = stop.end
        v = 0.0
        dist = target - x
        direction = math.copysign(1.0, dist) if abs(dist) > EPS else 0.0
    if direction != 0.0:
        u = abs(v)
        remaining = abs(dist)
        if u > vmax:
            dur_s = (u - vmax) / accel
            _append(segs, t_s, x, direction * u, -direction * accel, dur_s)
            t_s, x, u = t_s + dur_s, x + direction * (u + vmax) / 2 * dur_s, vmax
            remaining = abs(target - x)
        peak = math.sqrt((2 * accel * remaining + u * u) / 2)
        cruise_s = 0.0
        if peak > vmax:
            cruise_s = remaining - (vmax * vmax - u * u) / (2 * accel) - vmax * vmax / (2 * accel)
            cruise_s /= vmax
            peak = vmax
        for a, dur_s in (
            (direction * accel, (peak - u) / accel),
            (0.0, cruise_s),
            (-direction * accel, peak / accel),
        ):
            _append(segs, t_s, x, direction * u, a, dur_s)
            if dur_s > EPS:
                t_s, x, vel = segs[-1].end
                u = abs(vel)
    segs.append(Segment(t_s, target, 0.0, 0.0, math.inf))
    return Profile(tuple(segs))
