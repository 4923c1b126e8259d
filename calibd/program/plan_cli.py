"""`calibd program plan FILE [--config CFG] [--json]`: the dry run of a program.

Prints the steps, the travel per axis, the motion ETA + DAQ time = total ETA and every problem
(`--json`: the plan as one JSON object). Exit 0 when the program is runnable, 1 when the plan
found problems, 2 when the program, the configuration or the inventory cannot be read. Moves
nothing and connects to nothing: the subsystems are built without opening any bus.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from calibd.assembly import build
from calibd.buses import Buses
from calibd.config import ConfigError, load_config
from calibd.core.outbox import Outbox
from calibd.program.model import ProgramError, load_program
from calibd.program.plan import hms
from calibd.program.planner import make_plan
from calibd.program.sources import SourcesError, offline_sources

EXIT_RUNNABLE, EXIT_PROBLEMS, EXIT_UNREADABLE = 0, 1, 2


def add_parser(sub: Any) -> None:
    """Add `program plan` to the `calibd` subcommands (`sub`: argparse's subparsers)."""
    p = sub.add_parser("program", help="calibration programs")
    program_sub = p.add_subparsers(dest="program_command", required=True)
    p = program_sub.add_parser(
        "plan", help="the dry run of a program: steps, travel, ETA, checks; moves nothing"
    )
    p.add_argument("file", metavar="FILE", help="a program name (in [program] dir) or a path")
    p.add_argument(
        "--config",
        default=os.environ.get("CALIBD_CONFIG"),
        help="the configuration (default: $CALIBD_CONFIG)",
    )
    p.add_argument("--json", action="store_true", help="the plan as one JSON object")
    p.set_defaults(func=run_plan)


def _fail(lines: list[str]) -> int:
    for line in lines:
        print(f"calibd program plan: {line}", file=sys.stderr)
    return EXIT_UNREADABLE


def run_plan(args: argparse.Namespace) -> int:
    if not args.config:
        return _fail(["no configuration: give --config FILE (or set CALIBD_CONFIG)"])
    try:
        settings = load_config(args.config)
    except ConfigError as exc:
        return _fail([f"config error: {line}" for line in exc.errors])
    try:
        program = load_program(args.file, settings.program.dir)
    except ProgramError as exc:
        return _fail(exc.problems)
    try:
        sources = offline_sources(settings)
    except SourcesError as exc:
        return _fail([str(exc)])
    systems = build(settings, Buses(), Outbox(16))
    plan = make_plan(program, settings, sources, systems)
    if args.json:
        print(json.dumps(plan.as_dict(), indent=1))
    else:
        print(plan.render())
        scale = settings.sim.time_scale
        if scale != 1.0:
            print(f"wall time at [sim] time_scale {scale:g}: {hms(plan.eta_s() / scale)}")
    return EXIT_PROBLEMS if plan.problems else EXIT_RUNNABLE
