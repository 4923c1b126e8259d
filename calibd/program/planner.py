"""The dry run of a program: every move the sequencer will send, checked and timed.

`make_plan` turns each points step into `deploy` (first point), `move` (each next point) and
`retract`, and each mount step into one `mount` move (a pause for an expert). It checks what is
decidable without the hardware: the system is configured (and its gate valve is a house valve);
the source kind is mounted there (the inventory, updated by the program's own mount steps);
every point passes the real subsystem's argument validation (`validate_args`, `check_args`,
and for a CLS the path planner). Whether a system is homed, parked or inhibited right now is
the sequencer's check at run time (`calibd/program/live.py`). Motion times come from the
estimators (`calibd/program/eta.py`, `eta_*.py`); the result is a `Plan` (`plan.py`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from calibd.config import Settings
from calibd.core.commands import validate_args
from calibd.core.errors import CommandError
from calibd.core.subsystem import Subsystem
from calibd.program.estimators import estimator
from calibd.program.eta import Estimator, Leg
from calibd.program.model import MountStep, PointsStep, Program, family
from calibd.program.plan import Move, Plan
from calibd.store.inventory_rules import SourceRecord

Slot = tuple[str, str | None]


def _where(point: Mapping[str, float]) -> str:
    return " ".join(f"{k}={v:g}" for k, v in point.items())


@dataclass
class _Planner:
    program: Program
    settings: Settings
    systems: Mapping[str, Subsystem]
    start: Mapping[str, Any]
    slots: dict[Slot, SourceRecord] = field(default_factory=dict)
    spare: list[SourceRecord] = field(default_factory=list)
    models: dict[str, Estimator] = field(default_factory=dict)
    moves: list[Move] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def run(self) -> None:
        for i, step in enumerate(self.program.steps):
            label = f"step {i + 1} ({step.system} {step.source})"
            sub = self.systems.get(step.system)
            if sub is None or getattr(self.settings, step.system, None) is None:
                self.problems.append(f"{label}: system {step.system} is not configured")
                continue
            valve = getattr(getattr(self.settings, step.system), "valve", None)
            if valve is not None and valve not in self.settings.house.valves:
                self.problems.append(
                    f"{label}: gate valve {valve!r} of {step.system} is not in [house.valves]"
                )
            if isinstance(step, MountStep):
                self.mount(i, step, sub, label)
            else:
                self.points(i, step, sub, label)

    # ---- the inventory as the program changes it -------------------------------------------

    def units(self, sub: Subsystem) -> tuple[str, ...]:
        units = getattr(sub, "units", None)
        return tuple(units()) if callable(units) else ()

    def mount(self, i: int, step: MountStep, sub: Subsystem, label: str) -> None:
        units = self.units(sub)
        if units and step.unit not in units:
            self.problems.append(f"{label}: mount needs a unit of {', '.join(units)}")
        elif not units and step.unit is not None:
            self.problems.append(f"{label}: {step.system} has no units")
        slot = (step.system, step.unit)
        mounted = self.slots.get(slot)
        if mounted is None or mounted.kind != step.source:
            spare = next((r for r in self.spare if r.kind == step.source), None)
            if spare is None:
                self.problems.append(
                    f"{label}: no {step.source} source to mount (none in stock or checked out)"
                )
            else:
                self.spare.remove(spare)
                if mounted is not None:
                    self.spare.append(mounted)
                self.slots[slot] = spare
        where = step.system + (f" unit {step.unit}" if step.unit else "")
        self.moves.append(
            Move(
                step=i,
                point=None,
                system=step.system,
                action="mount",
                args={"unit": step.unit, "source": step.source},
                source=step.source,
                daq_s=0.0,
                motion_s=0.0,
                travel={},
                message=step.message or f"an expert mounts a {step.source} source on {where}",
            )
        )

    def unit_for(self, step: PointsStep, sub: Subsystem, label: str) -> str | None:
        """The ACU unit of a step (given, else the one carrying the kind); None: a problem."""
        if step.unit is not None:
            held = self.slots.get((step.system, step.unit))
            if held is None or held.kind != step.source:
                has = "nothing" if held is None else f"{held.kind} ({held.id})"
                self.problems.append(f"{label}: unit {step.unit} carries {has}, not {step.source}")
                return None
            return step.unit
        carriers = [
            u
            for u in self.units(sub)
            if (r := self.slots.get((step.system, u))) and r.kind == step.source
        ]
        if len(carriers) != 1:
            which = "no unit" if not carriers else f"units {', '.join(carriers)} (set `unit`)"
            self.problems.append(f"{label}: {which} of {step.system} carries {step.source}")
            return None
        return carriers[0]

    # ---- a points step ---------------------------------------------------------------------

    def points(self, i: int, step: PointsStep, sub: Subsystem, label: str) -> None:
        unit: str | None = None
        if family(step.system) == "acu":
            unit = self.unit_for(step, sub, label)
        else:
            held = self.slots.get((step.system, None))
            if held is None or held.kind != step.source:
                has = "nothing" if held is None else f"{held.kind} ({held.id})"
                self.problems.append(f"{label}: {step.system} carries {has}, not {step.source}")
        model = self.model(step.system)
        untimed = family(step.system) == "acu" and unit is None  # no unit: said so already
        scan = step.scan_args()
        if scan is not None and not untimed:
            self.scan_problems(i, step, sub, unit, scan)
        for k, point in enumerate(step.points):
            action = "deploy" if k == 0 else "move"
            args: dict[str, Any] = dict(point)
            if action == "deploy" and family(step.system) == "acu":
                args = {"unit": unit, **args}
            where = f"step {i + 1} point {k + 1} ({step.system} {_where(point)})"
            problem = None if untimed else self.check(sub, action, args)
            leg = Leg() if untimed else self.estimate(model, action, args, where, problem)
            fields = (i, k, step.system, action, args, step.source, step.point_s)
            self.moves.append(Move(*fields, *leg.fields(), scan=scan))
        where = f"step {i + 1} retract ({step.system})"
        leg = Leg() if untimed else self.estimate(model, "retract", {}, where, None)
        self.moves.append(
            Move(i, None, step.system, "retract", {}, step.source, 0.0, *leg.fields())
        )

    def scan_problems(
        self, i: int, step: PointsStep, sub: Subsystem, unit: str | None, scan: dict[str, Any]
    ) -> None:
        """A laser step's scan: the ACU's own argument checks, and its laser on that unit."""
        where = f"step {i + 1} ({step.system} laser scan)"
        problem = self.check(sub, "laser_scan", scan)
        if problem is not None:
            self.problems.append(f"{where}: {problem}")
        laser = getattr(getattr(self.settings, step.system, None), "laser", None)
        if laser is not None and unit is not None and laser.unit != unit:
            self.problems.append(f"{where}: the laser is on unit {laser.unit}, not {unit}")

    def check(self, sub: Subsystem, action: str, args: dict[str, Any]) -> str | None:
        """The subsystem's own validation of the command's arguments."""
        spec = sub.ACTIONS.get(action)
        if spec is None:
            return f"{sub.name} has no action {action}"
        try:
            sub.check_args(action, validate_args(spec.args, args))
        except CommandError as exc:
            return f"{exc.code}: {exc.message}"
        return None

    def model(self, system: str) -> Estimator:
        if system not in self.models:
            self.models[system] = estimator(system, self.settings, self.start.get(system))
        return self.models[system]

    def estimate(
        self, model: Estimator, action: str, args: dict[str, Any], where: str, problem: str | None
    ) -> Leg:
        if problem is None:
            try:
                problem = model.path_problem(action, args)
            except ArithmeticError as exc:
                problem = f"out_of_range: no path: {exc}"
            else:
                problem = None if problem is None else f"out_of_range: {problem}"
        if problem is not None:
            self.problems.append(f"{where}: {problem}")
            return Leg()  # not timed: the model would follow a refused command
        try:
            if action == "retract":
                return model.retract()
            return model.deploy(args) if action == "deploy" else model.move(args)
        except ArithmeticError as exc:
            self.problems.append(f"{where}: out_of_range: the motion model fails: {exc}")
            return Leg()


def make_plan(
    program: Program,
    settings: Settings,
    sources: Sequence[SourceRecord],
    systems: Mapping[str, Subsystem],
    *,
    start: dict[str, Any] | None = None,
) -> Plan:
    """Every move of `program` with its checks and estimated motion time.

    `sources`: the inventory now; `systems`: the subsystems (offline ones built without any
    connection, or the daemon's); `start`: positions per system (e.g. `{"acu": {"unit": "A",
    "z_m": 5.0}}`), default: every system parked (the turntable where the ACU says it is, else
    at its first unit, where homing leaves it)."""
    where = dict(start or {})
    acu = systems.get("acu")
    if acu is not None and "unit" not in where.get("acu", {}):
        position = acu.status_fields().get("position") or {}
        if position.get("unit") is not None:
            where["acu"] = {**where.get("acu", {}), "unit": position["unit"]}
    planner = _Planner(program, settings, systems, where)
    for record in sources:
        if record.system is not None:
            planner.slots[(record.system, record.unit)] = record
        elif record.state in ("in_stock", "checked_out"):
            planner.spare.append(record)
    planner.run()
    return Plan(program, tuple(planner.moves), tuple(planner.problems))
