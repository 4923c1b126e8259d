"""`calibd` command line: run, check-config, schema, demo."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from calibd import __version__
from calibd.config import ConfigError, Settings, json_schema, load_config
from calibd.log import configure_logging


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
    args = parser.parse_args(argv)
    raise SystemExit(args.func(args))


if __name__ == "__main__":
    main()
