"""The benchmark suite behind `bench/run`: every benchmark of bench/catalog.py, one JSON document.

    bench/run [--quick] [--only NAME[,NAME]] [--out FILE] [--update-readme] [--note TEXT]
              [--time-scale 100] [--ci-time-scale 300] [--keep] [--strict]
    bench/run --from-json FILE --update-readme      # README block from a saved document
    bench/run --list

Each benchmark starts its own private rig (bench/_common.py), so they are independent; one that
breaks is reported with its error and the others still run. Progress goes to stderr, the
document to stdout (and to `--out`). Exit status: 0 when every benchmark ran (targets missed or
not: read `pass`), 1 when one broke, or with `--strict` when a target was missed too, 2 usage.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import catalog
import readme_table
from figures import Outcome, suite_pass
from machine_info import load_average, machine

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def run_spec(spec: catalog.Spec, settings: catalog.Settings) -> Outcome:
    """Run one benchmark; an exception becomes the outcome's error."""
    out = Outcome(spec.name, spec.title)
    t0 = time.monotonic()
    try:
        raw = spec.run(settings)
        out.figures = spec.figures(raw)
        out.n = spec.n(raw)
        out.details = raw
        if raw.get("aborted"):
            out.error = f"aborted: {raw['aborted']}"
    except Exception as exc:  # reported in the document; the other benchmarks still run
        out.error = f"{type(exc).__name__}: {exc}"
    out.wall_s = round(time.monotonic() - t0, 1)
    return out


def document(
    outcomes: list[Outcome],
    *,
    command: str,
    settings: catalog.Settings,
    machine_info: dict[str, Any],
    wall_s: float,
    note: str | None = None,
    load_end: list[float] | None = None,
) -> dict[str, Any]:
    """The suite's JSON document."""
    return {
        "suite": "calibd bench",
        "command": command,
        "quick": settings.quick,
        "settings": {"time_scale": settings.time_scale, "ci_time_scale": settings.ci_time_scale},
        "note": note,
        "machine": machine_info,
        "load_average_end": load_end,
        "wall_s": round(wall_s, 1),
        "pass": suite_pass(outcomes),
        "benchmarks": {o.name: o.to_json() for o in outcomes},
    }


def update_readme(doc: dict[str, Any], readme: Path = README) -> None:
    readme.write_text(readme_table.replace_block(readme.read_text(), readme_table.render(doc)))


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/run", description="calibd benchmark suite (JSON)")
    p.add_argument("--quick", action="store_true", help="smaller n, shorter windows (< 3 min)")
    p.add_argument("--only", default="", help=f"comma list of: {','.join(catalog.BY_NAME)}")
    p.add_argument("--out", type=Path, help="also write the JSON document to FILE")
    p.add_argument("--update-readme", action="store_true", help="rewrite README's bench block")
    p.add_argument("--from-json", type=Path, help="run nothing: use this saved document")
    p.add_argument("--note", help="a remark for the document and README (e.g. machine load)")
    p.add_argument("--time-scale", type=float, default=100.0, help="ETA-ratio program runs")
    p.add_argument("--ci-time-scale", type=float, default=300.0, help="the weekly wall time run")
    p.add_argument("--keep", action="store_true", help="keep the rigs' work directories (logs)")
    p.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    p.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse(argv)
    if args.list:
        for spec in catalog.SPECS:
            print(f"{spec.name:14} {spec.title}")
        return 0
    names = [n for n in args.only.split(",") if n] or list(catalog.BY_NAME)
    unknown = [n for n in names if n not in catalog.BY_NAME]
    if unknown:
        print(f"bench/run: unknown benchmark(s) {unknown}; --list shows them", file=sys.stderr)
        return 2
    if args.update_readme and args.only:
        print("bench/run: --update-readme needs the whole suite (no --only)", file=sys.stderr)
        return 2
    if args.from_json is not None:
        doc: dict[str, Any] = json.loads(args.from_json.read_text())
    else:
        doc = run_suite(args, names, " ".join(["bench/run", *(shlex.quote(a) for a in argv)]))
    text = json.dumps(doc, indent=2)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")
    if args.update_readme:
        update_readme(doc)
        print(f"bench/run: updated the block in {README}", file=sys.stderr)
    broke = any(b.get("error") for b in doc["benchmarks"].values())
    return 1 if broke or (args.strict and not doc["pass"]) else 0


def run_suite(args: argparse.Namespace, names: list[str], command: str) -> dict[str, Any]:
    settings = catalog.Settings(args.quick, args.keep, args.time_scale, args.ci_time_scale)
    info = machine()
    t0 = time.monotonic()
    outcomes = []
    for name in names:
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        outcome = run_spec(catalog.BY_NAME[name], settings)
        verdict = {True: "pass", False: "FAIL", None: "no target"}[outcome.passed]
        extra = f": {outcome.error}" if outcome.error else ""
        print(f"bench: {name} {outcome.wall_s} s, {verdict}{extra}", file=sys.stderr, flush=True)
        outcomes.append(outcome)
    return document(
        outcomes,
        command=command,
        settings=settings,
        machine_info=info,
        wall_s=time.monotonic() - t0,
        note=args.note,
        load_end=load_average(),
    )


if __name__ == "__main__":
    raise SystemExit(main())
