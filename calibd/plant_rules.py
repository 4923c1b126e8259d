"""The cross-system interlock table, evaluated by the interlock board on every poll of fresh data.

Each row is an `Interlock` (docs/interlocks.md) with two pure functions of a `PlantView` (the
presences of every deployment system, the house readings, the e-stop latch, the run permit):
`evaluate` returns what is active now (entries for the board, and the systems a trip stops) and
`refuse` says why a command must be rejected `interlock` before anything moves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from calibd.cfg_interlocks import CHIMNEY_SYSTEMS, InterlocksCfg
from calibd.core.interlock import Interlock, Severity
from calibd.core.presence import Presence, Segment, point_segment_m, segment_segment_m

T, I = Severity.TRIP, Severity.INHIBIT  # noqa: E741 - table shorthand
ALWAYS_ALLOWED = frozenset({"status", "stop", "laser_off"})  # making safe is never refused
DEPLOYMENT_ACTIONS = frozenset({"deploy", "move", "profile"})


@dataclass(frozen=True)
class PlantView:
    systems: Mapping[str, Presence]
    cfg: InterlocksCfg
    estop: str | None = None  # message of the latched global e-stop
    estop_input_open: bool = False
    estop_input_latched: bool = False  # the circuit opened since the last global reset
    ready: bool = True  # every system and the house have been read at least once
    atmosphere: tuple[float, float] | None = None  # O2 ppm, radon mBq/m3
    permit: bool = False

    def inside(self, among: tuple[str, ...] | None = None, *, but: str = "") -> list[str]:
        """Systems whose source is (or is about to be) in the detector."""
        names = self.systems if among is None else among
        return [n for n in names if n != but and n in self.systems and self.systems[n].inside]


@dataclass(frozen=True)
class Request:
    """A command about to be accepted: `entry` when it would take a parked system in."""

    system: str
    action: str
    entry: bool
    planned: tuple[Segment, ...] = ()  # the cables / path it would occupy


@dataclass(frozen=True)
class Finding:
    id: str
    system: str
    severity: Severity
    message: str
    trips: tuple[str, ...] = field(default=())
    latched: bool = False


Evaluate = Callable[[PlantView], list[Finding]]
Refuse = Callable[[PlantView, Request], str | None]


def _moving(v: PlantView, names: list[str]) -> tuple[str, ...]:
    return tuple(n for n in names if v.systems[n].moving and not v.systems[n].faulted)


def _unfaulted(v: PlantView) -> tuple[str, ...]:
    return tuple(n for n, p in v.systems.items() if not p.faulted)


# ---- e-stop -------------------------------------------------------------------------------------


def _estop_eval(v: PlantView) -> list[Finding]:
    if v.estop is None:
        return []
    return [Finding("estop", "daemon", T, v.estop, _unfaulted(v))]


def _estop_refuse(v: PlantView, r: Request) -> str | None:
    if v.estop is None or r.action in ALWAYS_ALLOWED:
        return None
    return f"e-stop latched ({v.estop}): send the global reset"


def _input_eval(v: PlantView) -> list[Finding]:
    if v.estop_input_open:
        msg = "house e-stop circuit open: every drive stopped"
        return [Finding("estop_input", "house", T, msg, _unfaulted(v))]
    if v.estop_input_latched:
        msg = "house e-stop circuit was opened: send the global reset"
        return [Finding("estop_input", "house", T, msg, latched=True)]
    return []


def _input_refuse(v: PlantView, r: Request) -> str | None:
    if r.action in ALWAYS_ALLOWED:
        return None
    if v.estop_input_open:
        return "house e-stop circuit open: close it, then send the global reset"
    if v.estop_input_latched:
        return "house e-stop circuit was opened: send the global reset"
    return None


# ---- chimney and sources ------------------------------------------------------------------------


def _chimney_eval(v: PlantView) -> list[Finding]:
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


def _chimney_refuse(v: PlantView, r: Request) -> str | None:
    if not r.entry or r.system not in CHIMNEY_SYSTEMS:
        return None
    inside = v.inside(CHIMNEY_SYSTEMS, but=r.system)
    if len(inside) < v.cfg.max_in_chimney:
        return None
    return (
        f"{', '.join(inside)} in the detector; at most {v.cfg.max_in_chimney} of "
        f"{', '.join(CHIMNEY_SYSTEMS)} at once (they share the chimney)"
    )


def _sources_eval(v: PlantView) -> list[Finding]:
    out = v.inside()
    n = v.cfg.max_sources_in_detector
    if not v.ready or len(out) < n:
        return []
    msg = f"{len(out)} of at most {n} sources out ({', '.join(out)}): no further deployment"
    if len(out) > n:
        return [Finding("source_limit", out[0], T, msg, _moving(v, out))]
    return [Finding("source_limit", out[0], I, msg)]


def _sources_refuse(v: PlantView, r: Request) -> str | None:
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


def _atmosphere_eval(ident: str) -> Evaluate:
    def evaluate(v: PlantView) -> list[Finding]:
        refusal = atmosphere_refusal(v) if v.atmosphere is not None else None
        if refusal is None or refusal[0] != ident:
            return []
        return [Finding(ident, "house", I, refusal[1])]

    return evaluate


def _atmosphere_refuse(ident: str) -> Refuse:
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


def _none_eval(v: PlantView) -> list[Finding]:
    return []


def _none_refuse(v: PlantView, r: Request) -> str | None:
    return None


# ---- run permit -------------------------------------------------------------------------------


def _permit_eval(v: PlantView) -> list[Finding]:
    if v.permit:
        return []
    need = [n for n in v.cfg.run_permit.required_for if n in v.systems]
    msg = f"no run-control permit on {v.cfg.run_permit.topic}: deploy/move refused"
    return [Finding("run_permit", n, I, msg) for n in need]


def _permit_refuse(v: PlantView, r: Request) -> str | None:
    if v.permit or r.system not in v.cfg.run_permit.required_for:
        return None
    if r.action not in DEPLOYMENT_ACTIONS:
        return None
    return f"no run-control permit on {v.cfg.run_permit.topic}"


# ---- ROV keep-out -----------------------------------------------------------------------------


def _keepout_eval(v: PlantView) -> list[Finding]:
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


def _keepout_refuse(v: PlantView, r: Request) -> str | None:
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


PLANT_INTERLOCKS: tuple[tuple[Interlock, Evaluate, Refuse], ...] = (
    (
        Interlock(
            "estop",
            T,
            "global command `estop` on {root}/cmd (any operator)",
            "every deployment system halts and latches FAULT `estop`; every command but "
            "status/stop is refused",
            "the global `reset` releases the latch and resets every system",
        ),
        _estop_eval,
        _estop_refuse,
    ),
    (
        Interlock(
            "estop_input",
            T,
            "the house e-stop circuit (IO module DI16, fail-safe) is open",
            "every deployment system halts and latches FAULT `estop_input`; every command but "
            "status/stop is refused until the global reset, even once the circuit is closed",
            "close the circuit, then the global `reset`",
        ),
        _input_eval,
        _input_refuse,
    ),
    (
        Interlock(
            "chimney_exclusive",
            I,
            "acu, cls1, cls2 and rov share the chimney: at most interlocks.max_in_chimney (1) "
            "of them out of their parked position",
            "a command that would take another of them in is refused; if ever more are out, "
            "the moving ones trip",
            "ends when the system in the detector is parked again",
        ),
        _chimney_eval,
        _chimney_refuse,
    ),
    (
        Interlock(
            "source_limit",
            I,
            "at most interlocks.max_sources_in_detector (1) systems with their source out, "
            "GT included",
            "a command that would take another source in is refused; if ever more are out, "
            "the moving ones trip",
            "ends when a source is parked again",
        ),
        _sources_eval,
        _sources_refuse,
    ),
    (
        Interlock(
            "o2_high",
            I,
            "house O2 above interlocks.o2_max_ppm (10 ppm), or no reading",
            "no gate valve opens: deployments through a valve are refused (a valve open "
            "asked for meanwhile trips its system)",
            "ends when the O2 reading is back at or below the limit",
        ),
        _atmosphere_eval("o2_high"),
        _atmosphere_refuse("o2_high"),
    ),
    (
        Interlock(
            "radon_high",
            I,
            "house radon above interlocks.radon_max_mbq_m3 (15 mBq/m3)",
            "as o2_high",
            "ends when the radon reading is back at or below the limit",
        ),
        _atmosphere_eval("radon_high"),
        _atmosphere_refuse("radon_high"),
    ),
    (
        Interlock(
            "valve_path",
            I,
            "a gate valve may close only when every system that passes it is parked",
            "the house refuses the close; the system asking trips `valve_path`",
            "park the system first (retract), then the valve closes",
        ),
        _none_eval,
        _none_refuse,
    ),
    (
        Interlock(
            "run_permit",
            I,
            "a system in interlocks.run_permit.required_for while run control's permit topic "
            "does not say {permit: true}",
            "deploy and move of that system are refused; nothing already out is stopped",
            "ends when run control grants the permit",
        ),
        _permit_eval,
        _permit_refuse,
    ),
    (
        Interlock(
            "rov_keepout",
            I,
            "the ROV within interlocks.rov_keepout_m of a deployed cable (ACU axis, CLS "
            "cables), or a target/path that would bring it (or a cable) there",
            "such commands are refused; if it happens anyway, the moving system(s) trip",
            "a trip: move the ROV away after `reset`; an inhibit ends when the zone is clear",
        ),
        _keepout_eval,
        _keepout_refuse,
    ),
)
