"""Where a deployment system is, as the interlock board sees it (no registers, no topics).

A `Presence` is computed from a system's latest readings on every evaluation of the board:
whether its source (or vehicle) is out of its parked position, whether it moves, and the
straight segments its cables occupy in the detector frame (the ROV keep-out zones).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Point = tuple[float, float, float]
Segment = tuple[Point, Point]


@dataclass(frozen=True)
class Presence:
    deployed: bool  # not parked, even by a millimetre
    inside: bool  # its source is, or is about to be, in the detector
    moving: bool  # a motion state or any drive in motion
    faulted: bool
    source: str | None  # the source it carries (None: none configured / a laser)
    valve: str | None  # its gate valve (None: GT)
    cables: tuple[Segment, ...] = ()  # deployed cables, detector frame
    point: Point | None = None  # the vehicle's position (ROV)
    known: bool = True  # read at least once (before that, `inside` is assumed)


def point_segment_m(p: Point, seg: Segment) -> float:
    """Distance from a point to a segment."""
    a, b = seg
    ab = tuple(bi - ai for ai, bi in zip(a, b, strict=True))
    ap = tuple(pi - ai for ai, pi in zip(a, p, strict=True))
    den = sum(c * c for c in ab)
    t = (
        0.0
        if den == 0
        else max(0.0, min(1.0, sum(x * y for x, y in zip(ap, ab, strict=True)) / den))
    )
    closest = tuple(ai + t * c for ai, c in zip(a, ab, strict=True))
    return math.dist(p, closest)


def segment_segment_m(s: Segment, t: Segment, resolution_m: float = 0.05) -> float:
    """Distance between two segments, sampled along `s` every `resolution_m` (the result is
    at most `resolution_m` / 2 too large: negligible against keep-out zones of metres)."""
    a, b = s
    steps = max(1, math.ceil(math.dist(a, b) / resolution_m))
    best = math.inf
    for k in range(steps + 1):
        f = k / steps
        p = (a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f)
        best = min(best, point_segment_m(p, t))
    return best
