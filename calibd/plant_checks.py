"""The cross-system interlock rules as pure functions of a `PlantView` (`calibd/plant_view.py`).

For each row of the table (`calibd/plant_rules.py`) an `evaluate` (what is active now: entries
for the board, and the systems a trip stops) and a `refuse` (why a command must be rejected
`interlock` before anything moves); `atmosphere_refusal` and `path_refusal` also gate the house's
gate valves.
"""

from __future__ import annotations

from calibd.cfg_interlocks import CHIMNEY_SYSTEMS
from calibd.core.interlock import Severity
from calibd.core.presence import point_segment_m, segment_segment_m
from calibd.plant_view import Evaluate, Finding, PlantView, Refuse, Request

T, I = Severity.TRIP, Severity.INHIBIT  # noqa: E741 - table shorthand
ALWAYS_ALLOWED = frozenset({"status", "stop", "laser_off"})  # making safe is never refused
DEPLOYMENT_ACTIONS = frozenset({"deploy", "move", "profile"})


def _moving(v: PlantView, names: list[str]) -> tuple[str, ...]:
    return tuple(n for n in names if v.systems[n].moving and not v.systems[n].faulted)


def _unfaulted(v: PlantView) -> tuple[str, ...]:
    return tuple(n for n, p in v.systems.items() if not p.faulted)


# ---- e-stop -------------------------------------------------------------------------------------


def estop_eval(v: PlantView) -> list[Finding]:
    if v.estop is None:
        return []
    return [Finding("estop", "daemon", T, v.estop, _unfaulted(v))]


def estop_refuse(v: PlantView, r: Request) -> str | None:
    if v.estop is None or r.action in ALWAYS_ALLOWED:
        return None
    return f"e-stop latched ({v.estop}): send the global reset"


def input_eval(v: PlantView) -> list[Finding]:
    if v.estop_input_open:
        msg = "house e-stop circuit open: every drive stopped"
        return [Finding("estop_input", "house", T, msg, _unfaulted(v))]
    if v.estop_input_latched:
        msg = "house e-stop circuit was opened: send the global reset"
        return [Finding("estop_input", "house", T, msg, latched=True)]
    return []


def input_refuse(v: PlantView, r: Request) -> str | None:
    if r.action in ALWAYS_ALLOWED:
        return None
    if v.estop_input_open:
        return "house e-stop circuit open: close it, then send the global reset"
    if v.estop_input_latched:
        return "house e-stop circuit was opened: send the global reset"
    return None


# ---- chimney and sources ------------------------------------------------------------------------


def chimney_eval(v: PlantView) -> list[Finding]:
    inside = v.inside(CHIMNEY_SYSTEMS)
    if not v.ready or len(inside) < v.cfg.max_in_chimney:
        return []
    others = [n for n in CHIMNEY_SYSTEMS if n in v.systems and n not in inside]
    msg = f"{', '.join(inside)} in the detector"
    if others:
        msg += f": {', '.join(others)} may not enter"
    if len(inside) > v.cfg.max_in_chimney:
        return [Finding("chimney_exclusive", inside[0], T, "too many " + msg, _moving(v, inside))]
    return [Finding("chimney_exclusive", inside[0], I, msg)]


def chimney_refuse(v: PlantView, r: Request) -> str | None:
    if not r.entry or r.system not in CHIMNEY_SYSTEMS:
        return None
    inside = v.inside(CHIMNEY_SYSTEMS, but=r.system)
    if len(inside) < v.cfg.max_in_chimney:
        return None
    return (
        f"{', '.join(inside)} in the detector; at most {v.cfg.max_in_chimney} of "
        f"{', '.join(CHIMNEY_SYSTEMS)} at once (they share the chimney)"
    )


def sources_eval(v: PlantView) -> list[Finding]:
    out = v.inside()
    n = v.cfg.max_sources_in_detector
    if not v.ready or len(out) < n:
        return []
    msg = f"{len(out)} of at most {n} sources out ({', '.join(out)}): no further deployment"
    if len(out) > n:
        return [Finding("source_limit", out[0], T, msg, _moving(v, out))]
    return [Finding("source_limit", out[0], I, msg)]


def sources_refuse(v: PlantView, r: Request) -> str | None:
    if not r.entry:
        return None
    out = v.inside(but=r.system)
    n = v.cfg.max_sources_in_detector
    if len(out) < n:
        return None
    return f"{len(out)} source(s) already out ({', '.join(out)}); at most {n} in the detector"


# ---- house atmosphere and valves ----------------------------------------------------------------


def atmosphere_refusal(v: PlantView) -> tuple[str, str] | None:
    """Why no gate valve may open now (None: it may)."""
    if v.atmosphere is None:
        return ("o2_high", "no O2/radon reading from the house: gate valves stay closed")
    o2, radon = v.atmosphere
    if o2 > v.cfg.o2_max_ppm:
        return ("o2_high", f"house O2 {o2:.1f} ppm > {v.cfg.o2_max_ppm:g} ppm: valves stay closed")
    if radon > v.cfg.radon_max_mbq_m3:
        return (
            "radon_high",
            f"house radon {radon:.1f} mBq/m3 > {v.cfg.radon_max_mbq_m3:g}: valves stay closed",
        )
    return None


def atmosphere_eval(ident: str) -> Evaluate:
    def evaluate(v: PlantView) -> list[Finding]:
        refusal = atmosphere_refusal(v) if v.atmosphere is not None else None
        if refusal is None or refusal[0] != ident:
            return []
        return [Finding(ident, "house", I, refusal[1])]

    return evaluate


def atmosphere_refuse(ident: str) -> Refuse:
    def refuse(v: PlantView, r: Request) -> str | None:
        if not r.entry or v.systems[r.system].valve is None or v.atmosphere is None:
            return None
        refusal = atmosphere_refusal(v)
        return None if refusal is None or refusal[0] != ident else refusal[1]

    return refuse


def path_refusal(v: PlantView, valve: str) -> tuple[str, str] | None:
    """Why `valve` may not close now: a system that passes it is not parked."""
    out = [n for n, p in v.systems.items() if p.valve == valve and p.deployed]
    if not out:
        return None
    return ("valve_path", f"{', '.join(out)} not parked: its cable may be in valve {valve}'s path")


def none_eval(v: PlantView) -> list[Finding]:
    return []


def none_refuse(v: PlantView, r: Request) -> str | None:
    return None


# ---- run permit -------------------------------------------------------------------------------


def permit_eval(v: PlantView) -> list[Finding]:
    if v.permit:
        return []
    need = [n for n in v.cfg.run_permit.required_for if n in v.systems]
    msg = f"no run-control permit on {v.cfg.run_permit.topic}: deploy/move refused"
    return [Finding("run_permit", n, I, msg) for n in need]


def permit_refuse(v: PlantView, r: Request) -> str | None:
    if v.permit or r.system not in v.cfg.run_permit.required_for:
        return None
    if r.action not in DEPLOYMENT_ACTIONS:
        return None
    return f"no run-control permit on {v.cfg.run_permit.topic}"


# ---- ROV keep-out -----------------------------------------------------------------------------


def keepout_eval(v: PlantView) -> list[Finding]:
    rov = v.systems.get("rov")
    if not v.ready or rov is None or not rov.deployed or rov.point is None:
        return []
    out: list[Finding] = []
    for name, p in v.systems.items():
        if name == "rov" or not p.cables:
            continue
        d = min(point_segment_m(rov.point, seg) for seg in p.cables)
        if d >= v.cfg.rov_keepout_m:
            continue
        msg = f"ROV {d:.2f} m from the {name} cable (keep-out {v.cfg.rov_keepout_m:g} m)"
        trips = _moving(v, ["rov", name])
        out.append(Finding("rov_keepout", "rov", T if trips else I, msg, trips))
    return out


def keepout_refuse(v: PlantView, r: Request) -> str | None:
    if r.action not in DEPLOYMENT_ACTIONS or not r.planned:
        return None
    keep = v.cfg.rov_keepout_m
    if r.system == "rov":
        for name, p in v.systems.items():
            if name == "rov" or not p.cables:
                continue
            d = min(segment_segment_m(path, seg) for path in r.planned for seg in p.cables)
            if d < keep:
                return f"the ROV path passes {d:.2f} m from the {name} cable (keep-out {keep:g} m)"
        return None
    rov = v.systems.get("rov")
    if rov is None or not rov.deployed or rov.point is None:
        return None
    d = min(point_segment_m(rov.point, seg) for seg in r.planned)
    if d < keep:
        return (
            f"the ROV is {d:.2f} m from where the {r.system} cable would be (keep-out {keep:g} m)"
        )
    return None
