"""`calibd` command line: run, check-config, schema, demo, log export."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

from calibd import __version__
from calibd.config import ConfigError, Settings, json_schema, load_config
from calibd.log import configure_logging
from calibd.program import plan_cli


def _load(path: str) -> Settings:
    try:
        return load_config(path)
    except ConfigError as exc:
        for line in exc.errors:
            print(f"config error: {line}", file=sys.stderr)
        raise SystemExit(1) from None


def cmd_run(args: argparse.Namespace) -> int:
    settings = _load(args.config)
    configure_logging(settings.log.json_output, settings.log.level)
    from calibd.app import run_daemon
    from calibd.store.db import StoreError

    try:
        asyncio.run(run_daemon(settings))
    except (asyncio.CancelledError, KeyboardInterrupt):
        return 0
    except StoreError as exc:
        print(f"store error: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    settings = _load(args.config)
    systems = ", ".join(["house", *settings.systems()])
    print(f"{args.config}: OK ({len(settings.endpoints())} endpoints; systems {systems})")
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    print(json.dumps(json_schema(), indent=2, sort_keys=True))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from calibd.demo import run_demo

    return run_demo(args.config, auto=args.auto)


def _state_dir(args: argparse.Namespace) -> Path:
    """--state-dir, else `state.dir` of --config, else CALIBD_STATE__DIR, else the default."""
    if args.state_dir:
        return Path(args.state_dir)
    if args.config:
        return _load(args.config).state.dir
    return Path(os.environ.get("CALIBD_STATE__DIR") or "/var/lib/calibd")


def cmd_log_export(args: argparse.Namespace) -> int:
    from calibd.core.timefmt import parse_iso
    from calibd.store.db import FILENAME
    from calibd.store.export import ExportError, read_records, to_csv, to_json

    def fail(message: str) -> int:
        print(f"calibd log export: {message}", file=sys.stderr)
        return 1

    since = None
    if args.since is not None:
        try:
            since = parse_iso(args.since)
        except ValueError:
            return fail(
                f"--since {args.since!r} is not an ISO 8601 time (e.g. 2026-11-21T12:00:00Z)"
            )
    try:
        records = read_records(_state_dir(args) / FILENAME, since)
    except ExportError as exc:
        return fail(str(exc))
    text = to_json(records) if args.format == "json" else to_csv(records)
    if args.output is None:
        sys.stdout.write(text)
        return 0
    try:
        Path(args.output).write_text(text, encoding="utf-8")
    except OSError as exc:
        return fail(f"{args.output}: cannot write: {exc.strerror or exc}")
    return 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="calibd", description=__doc__)
    parser.add_argument("--version", action="version", version=f"calibd {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="the daemon (systemd entry point)")
    p.add_argument("--config", required=True)
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("check-config", help="validate a configuration file")
    p.add_argument("config")
    p.set_defaults(func=cmd_check_config)
    p = sub.add_parser("schema", help="print the JSON schema of the configuration")
    p.set_defaults(func=cmd_schema)
    p = sub.add_parser("demo", help="private mosquitto + calibsim + calibd, live status")
    p.add_argument("--config", default="config/sim.toml")
    p.add_argument("--auto", action="store_true", help="run one ACU cycle, then exit")
    p.set_defaults(func=cmd_demo)
    p = sub.add_parser("log", help="the deployment log in the state directory")
    log_sub = p.add_subparsers(dest="log_command", required=True)
    p = log_sub.add_parser("export", help="the deployment records, as JSON or CSV")
    p.add_argument("--since", help="records started, ended or still open since (ISO 8601)")
    p.add_argument("--format", required=True, choices=("json", "csv"))
    p.add_argument("--config", help="take the state directory from this configuration")
    p.add_argument("--state-dir", help="the state directory (before --config)")
    p.add_argument("--output", help="write to this file (default: stdout)")
    p.set_defaults(func=cmd_log_export)
    plan_cli.add_parser(sub)
    args = parser.parse_args(argv)
    raise SystemExit(args.func(args))


if __name__ == "__main__":
    main()
