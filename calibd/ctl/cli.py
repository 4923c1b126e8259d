"""`calibctl` main: the endpoint from --config / --host --port --root, one link, the job, and
the exit code (errors.py; docs/calibctl.md)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from calibd.ctl.errors import BROKEN_PIPE, INTERRUPTED, USAGE, CtlError
from calibd.ctl.link import CtlLink
from calibd.ctl.logexport import export, state_dir
from calibd.ctl.parser import parse, parse_kv
from calibd.ctl.program import program_action, program_status, run_program
from calibd.ctl.run import Options, Request, execute
from calibd.ctl.view import status
from calibd.ctl.watch import watch


def endpoint(ns: argparse.Namespace) -> tuple[str, int, str]:
    """Broker host, port and topic root: the options, else --config (with its CALIBD_*
    overrides), else CALIBD_MQTT__HOST/PORT/TOPIC_ROOT, else 127.0.0.1:1883 juno/calib."""
    host, port, root = ns.host, ns.port, ns.root
    if ns.config:
        from calibd.config import ConfigError, load_config

        try:
            mqtt = load_config(ns.config).mqtt
        except ConfigError as exc:
            raise CtlError("\n".join(exc.errors), USAGE) from None
        host, port, root = host or mqtt.host, port or mqtt.port, root or mqtt.topic_root
    env = os.environ
    try:
        port = port or int(env.get("CALIBD_MQTT__PORT") or 1883)
    except ValueError:
        raise CtlError("CALIBD_MQTT__PORT is not a port number", USAGE) from None
    host = host or env.get("CALIBD_MQTT__HOST") or "127.0.0.1"
    return host, port, root or env.get("CALIBD_MQTT__TOPIC_ROOT") or "juno/calib"


def request(ns: argparse.Namespace) -> Request:
    """The command the parsed line asks for (`action` and `cmd` jobs)."""
    if ns.job == "cmd":
        try:
            args = parse_kv(ns.kv)
        except ValueError as exc:
            raise CtlError(str(exc), USAGE) from None
        system = None if ns.system == "-" else ns.system
        return Request(system, ns.verb, args, expert=ns.expert and system is not None)
    action = ns.action
    if action.expert and not (ns.expert or ns.via_expert):
        raise CtlError(
            f"{ns.system} {action.name} is a maintenance action: calibctl --expert"
            f" {ns.system} {action.name} ... (or calibctl expert {ns.system} {action.name} ...)",
            USAGE,
        )
    system = ns.system if ns.job == "action" else None
    return Request(system, action.name, action.payload(vars(ns)), expert=action.expert)


async def _go(ns: argparse.Namespace, opts: Options) -> int:
    host, port, root = endpoint(ns)
    req = request(ns) if ns.job in ("action", "cmd", "global") else None
    async with CtlLink(host, port, root, operator=ns.operator) as link:
        if req is not None:
            return await execute(link, req, opts)
        if ns.job == "status":
            return await status(link, ns.system, opts)
        if ns.job == "watch":
            return await watch(link, opts, tty=opts.out.isatty(), once=ns.once, count=ns.count)
        if ns.job == "program-status":
            return await program_status(link, opts)
        if ns.verb == "run":
            return await run_program(
                link, ns.arg_program, opts, follow=ns.wait, tty=opts.err.isatty()
            )
        return await program_action(link, ns.verb, opts)


def main(argv: list[str] | None = None) -> None:
    ns = parse(argv)
    if ns.timeout is not None and not ns.timeout > 0:
        print("calibctl: --timeout must be > 0", file=sys.stderr)
        raise SystemExit(USAGE)
    if getattr(ns, "count", None) is not None and ns.count < 1:
        print("calibctl: --count must be >= 1", file=sys.stderr)
        raise SystemExit(USAGE)
    opts = Options(
        wait=not ns.no_wait,
        timeout_s=ns.timeout,
        json=ns.json,
        progress=sys.stderr.isatty() if ns.progress is None else ns.progress,
    )
    try:
        if ns.job == "log-export":
            directory = state_dir(ns.state_dir, ns.config)
            code = export(directory, since=ns.since, fmt=ns.format, output=ns.output)
        else:
            code = asyncio.run(_go(ns, opts))
    except CtlError as exc:
        print(f"calibctl: {exc}", file=sys.stderr, flush=True)
        code = exc.exit_code
    except BrokenPipeError:  # stdout closed early (`calibctl status | head -1`)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = BROKEN_PIPE
    except KeyboardInterrupt:
        print("\ncalibctl: interrupted (a command already sent keeps running)", file=sys.stderr)
        code = INTERRUPTED
    raise SystemExit(code)
