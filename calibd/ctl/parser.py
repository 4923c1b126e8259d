"""calibctl's command line, built from the action table (actions.py). The global options are
accepted before and after the subcommand (`calibctl --no-wait acu home` and
`calibctl acu home --no-wait`)."""

from __future__ import annotations

import argparse
import os
from typing import Any

from calibd.ctl.actions import GLOBAL, PROGRAM, SYSTEMS, Action, Arg

EPILOG = """exit status: 0 completed (or accepted, with --no-wait); 1 rejected, failed or aborted
(a program: ended other than COMPLETED); 2 usage or configuration error; 3 no broker, daemon
not online, or no reply in time; 130 interrupted. See docs/calibctl.md."""


def defaults() -> dict[str, Any]:
    return {
        "config": os.environ.get("CALIBD_CONFIG") or None,
        "host": None,
        "port": None,
        "root": None,
        "operator": os.environ.get("USER") or "operator",
        "timeout": None,
        "no_wait": False,
        "json": False,
        "progress": None,
        "expert": False,
        "username": None,
        "password_file": None,
        "tls": False,
        "tls_ca": None,
        "tls_cert": None,
        "tls_key": None,
    }


def _options() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    g = p.add_argument_group("connection and behaviour")
    g.add_argument("--config", metavar="FILE", help="the daemon's TOML ($CALIBD_CONFIG)")
    g.add_argument("--host", help="MQTT broker host (default: from --config, or 127.0.0.1)")
    g.add_argument("--port", type=int, help="MQTT broker port (default: from --config, or 1883)")
    g.add_argument("--root", metavar="ROOT", help="topic root (default: from --config)")
    g.add_argument("--operator", metavar="NAME", help="who sends the command ($USER)")
    g.add_argument("--timeout", type=float, metavar="S", help="give up after S seconds")
    g.add_argument("--no-wait", action="store_true", help="return once the command is accepted")
    g.add_argument("--json", action="store_true", help="print JSON (replies, status)")
    g.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        help="state changes on stderr while waiting (default: when stderr is a terminal)",
    )
    g.add_argument("--expert", action="store_true", help="allow maintenance actions")
    a = p.add_argument_group("broker account and TLS (docs/calibctl.md#connection)")
    a.add_argument(
        "--username",
        metavar="NAME",
        help="your broker account ($CALIBCTL_USERNAME; $USER when only a password is given)",
    )
    a.add_argument(
        "--password-file",
        metavar="FILE",
        help="its password on the first line ($CALIBCTL_PASSWORD_FILE, or $CALIBCTL_PASSWORD)",
    )
    a.add_argument("--tls", action="store_true", help="TLS, the broker checked by the system CAs")
    a.add_argument(
        "--tls-ca",
        metavar="FILE",
        help="TLS, the broker checked by this CA ($CALIBCTL_TLS_CA; else [mqtt.tls] of --config)",
    )
    a.add_argument("--tls-cert", metavar="FILE", help="a client certificate (with --tls-key)")
    a.add_argument("--tls-key", metavar="FILE", help="the client certificate's private key")
    return p


def _add_arg(p: argparse.ArgumentParser, a: Arg) -> None:
    if not a.flags[0].startswith("-"):
        p.add_argument(a.dest, metavar=a.flags[0], help=a.help)
    elif a.boolean:
        p.add_argument(
            *a.flags, dest=a.dest, action=argparse.BooleanOptionalAction, default=None, help=a.help
        )
    else:
        p.add_argument(
            *a.flags,
            dest=a.dest,
            type=a.type,
            required=a.required,
            choices=a.choices,
            default=None,
            metavar=None if a.choices else a.flags[0].lstrip("-").split("-")[0].upper(),
            help=a.help,
        )


def _actions(
    sub: Any, actions: tuple[Action, ...], opts: argparse.ArgumentParser, **job: Any
) -> None:
    for action in actions:
        what = f"{action.help} (expert)" if action.expert else action.help
        p = sub.add_parser(action.name, help=what, description=what, parents=[opts])
        for a in action.args:
            _add_arg(p, a)
        p.set_defaults(action=action, **job)


def build() -> argparse.ArgumentParser:
    opts = _options()
    parser = argparse.ArgumentParser(
        prog="calibctl",
        description="The operator CLI of calibd over MQTT: status, watch, commands, programs.",
        epilog=EPILOG,
        parents=[opts],
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("status", help="every system's status (table, or --json)", parents=[opts])
    p.add_argument("system", nargs="?", help="only this system")
    p.set_defaults(job="status")
    p = sub.add_parser("watch", help="live view (Ctrl-C to quit)", parents=[opts])
    p.add_argument("--once", action="store_true", help="print the view once and exit")
    p.add_argument("--count", type=int, metavar="N", help="exit after N frames (or lines)")
    p.set_defaults(job="watch")
    for system, actions in SYSTEMS.items():
        p = sub.add_parser(system, help=f"a command to {system}", parents=[opts])
        _actions(
            p.add_subparsers(dest="verb", required=True, metavar="ACTION"),
            actions,
            opts,
            job="action",
            system=system,
            via_expert=False,
        )
    p = sub.add_parser("expert", help="maintenance actions ({root}/SYSTEM/expert/cmd)")
    esub = p.add_subparsers(dest="expert_system", required=True, metavar="SYSTEM")
    for system, actions in SYSTEMS.items():
        p = esub.add_parser(system, help=f"maintenance actions of {system}", parents=[opts])
        _actions(
            p.add_subparsers(dest="verb", required=True, metavar="ACTION"),
            tuple(a for a in actions if a.expert),
            opts,
            job="action",
            system=system,
            via_expert=True,
        )
    p = sub.add_parser("cmd", help="any command: SYSTEM ACTION [key=value ...]", parents=[opts])
    p.add_argument("system", help="the system, or - for the global {root}/cmd")
    p.add_argument("verb", metavar="action")
    p.add_argument("kv", nargs="*", metavar="key=value", help="args; values parsed as JSON")
    p.set_defaults(job="cmd")
    _actions(sub, GLOBAL, opts, job="global")
    p = sub.add_parser("program", help="calibration programs")
    psub = p.add_subparsers(dest="verb", required=True, metavar="ACTION")
    _actions(psub, PROGRAM, opts, job="program")
    run = psub.choices["run"]
    run.add_argument("--wait", action="store_true", help="follow the run until it ends")
    p = psub.add_parser("status", help="the program status (or --json)", parents=[opts])
    p.set_defaults(job="program-status")
    p = sub.add_parser("log", help="the deployment log")
    lsub = p.add_subparsers(dest="verb", required=True, metavar="ACTION")
    p = lsub.add_parser("export", help="the deployment records as JSON or CSV", parents=[opts])
    p.add_argument(
        "--what",
        choices=("deployments", "profiles"),
        default="deployments",
        help="the deployment log (default) or the temperature profiles",
    )
    p.add_argument("--since", help="records started, ended or still open since (ISO 8601)")
    p.add_argument("--format", required=True, choices=("json", "csv"))
    p.add_argument("--output", metavar="FILE", help="write to FILE (default: stdout)")
    p.add_argument("--state-dir", help="the state directory (default: from --config)")
    p.set_defaults(job="log-export")
    return parser


def parse(argv: list[str] | None) -> argparse.Namespace:
    ns = build().parse_args(argv)
    for key, value in defaults().items():
        if not hasattr(ns, key):
            setattr(ns, key, value)
    return ns


def parse_kv(items: list[str]) -> dict[str, Any]:
    """`z_m=-5 unit=A` -> `{"z_m": -5, "unit": "A"}` (JSON when it parses, else a string)."""
    import json

    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ValueError(f"argument {item!r} is not key=value")
        try:
            out[key] = json.loads(raw)
        except ValueError:
            out[key] = raw
    return out
