"""`calibd` command line: run, check-config, schema, broker-acl, demo, log export."""

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

#: `calibd run` with a configuration it cannot use: sysexits' EX_CONFIG, so that systemd does
#: not restart it in a loop (RestartPreventExitStatus in systemd/calibd.service)
EX_CONFIG = 78


def _load(path: str, code: int = 1) -> Settings:
    try:
        return load_config(path)
    except ConfigError as exc:
        for line in exc.errors:
            print(f"config error: {line}", file=sys.stderr)
        raise SystemExit(code) from None


def cmd_run(args: argparse.Namespace) -> int:
    settings = _load(args.config, EX_CONFIG)
    try:  # the broker password file is read once, here; TLS files checked before any I/O
        settings = settings.model_copy(update={"mqtt": settings.mqtt.with_secrets()})
    except ConfigError as exc:
        for line in exc.errors:
            print(f"config error: {line}", file=sys.stderr)
        return EX_CONFIG
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


def _check_config_file(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """`check-config FILE` or `check-config --config FILE` (as run, demo and log export take it)."""
    if args.config is None and args.file is None:
        parser.error("check-config: a configuration file is required (FILE or --config FILE)")
    if args.config is not None and args.file is not None and args.config != args.file:
        parser.error(f"check-config: two files given ({args.file} and --config {args.config})")
    args.config = args.config if args.config is not None else args.file


def cmd_schema(args: argparse.Namespace) -> int:
    print(json.dumps(json_schema(), indent=2, sort_keys=True))
    return 0


def cmd_broker_acl(args: argparse.Namespace) -> int:
    from calibd.broker_acl import RolesError, load_roles, render

    path = Path(args.roles)
    try:
        text = render(load_roles(path), args.root, source=args.roles)
    except RolesError as exc:
        print(f"calibd broker-acl: {exc}", file=sys.stderr)
        return 1
    if args.output is None:
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
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
        if args.what == "profiles":
            from calibd.store import profile_export

            profiles = profile_export.read_profiles(_state_dir(args) / FILENAME, since)
            text = to_json(profiles) if args.format == "json" else profile_export.to_csv(profiles)
        else:
            records = read_records(_state_dir(args) / FILENAME, since)
            text = to_json(records) if args.format == "json" else to_csv(records)
    except ExportError as exc:
        return fail(str(exc))
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
    check = sub.add_parser("check-config", help="validate a configuration file")
    check.add_argument("file", nargs="?", metavar="FILE", help="the configuration file")
    check.add_argument("--config", metavar="FILE", help="the configuration file (same as FILE)")
    check.set_defaults(func=cmd_check_config)
    p = sub.add_parser("schema", help="print the JSON schema of the configuration")
    p.set_defaults(func=cmd_schema)
    p = sub.add_parser("broker-acl", help="render the broker's ACL from a roles file")
    p.add_argument("roles", help="the roles and users (config/mosquitto/roles.toml)")
    p.add_argument("--root", default="juno/calib", help="the topic root (default juno/calib)")
    p.add_argument("--output", help="write to this file (default: stdout)")
    p.set_defaults(func=cmd_broker_acl)
    p = sub.add_parser("demo", help="private mosquitto + calibsim + calibd, live status")
    p.add_argument("--config", default="config/sim.toml")
    p.add_argument("--auto", action="store_true", help="run one ACU cycle, then exit")
    p.set_defaults(func=cmd_demo)
    p = sub.add_parser("log", help="the deployment log in the state directory")
    log_sub = p.add_subparsers(dest="log_command", required=True)
    p = log_sub.add_parser("export", help="the deployment records (or profiles), JSON or CSV")
    p.add_argument(
        "--what",
        choices=("deployments", "profiles"),
        default="deployments",
        help="the deployment log (default) or the temperature profiles",
    )
    p.add_argument("--since", help="records started, ended or still open since (ISO 8601)")
    p.add_argument("--format", required=True, choices=("json", "csv"))
    p.add_argument("--config", help="take the state directory from this configuration")
    p.add_argument("--state-dir", help="the state directory (before --config)")
    p.add_argument("--output", help="write to this file (default: stdout)")
    p.set_defaults(func=cmd_log_export)
    plan_cli.add_parser(sub)
    args = parser.parse_args(argv)
    if args.func is cmd_check_config:
        _check_config_file(check, args)
    raise SystemExit(args.func(args))


if __name__ == "__main__":
    main()
