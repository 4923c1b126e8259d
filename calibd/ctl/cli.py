"""`calibctl` main: the endpoint from --config / --host --port --root, the broker account and
TLS, one link, the job, and the exit code (errors.py; docs/calibctl.md)."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from calibd.cfg_mqtt import USERNAME_PATTERN, SecretFileError, client_tls_context, read_secret
from calibd.ctl.errors import BROKEN_PIPE, INTERRUPTED, USAGE, CtlError
from calibd.ctl.link import Auth, CtlLink
from calibd.ctl.logexport import export, state_dir
from calibd.ctl.parser import parse, parse_kv
from calibd.ctl.program import program_action, program_status, run_program
from calibd.ctl.run import Options, Request, execute
from calibd.ctl.view import status
from calibd.ctl.watch import watch

if TYPE_CHECKING:
    from calibd.config import MqttCfg


def daemon_mqtt(ns: argparse.Namespace) -> MqttCfg | None:
    """`[mqtt]` of --config (with its CALIBD_* overrides), or None. Only where the broker is
    and its TLS are taken from it, never the daemon's account."""
    if not ns.config:
        return None
    from calibd.config import ConfigError, load_config

    try:
        return load_config(ns.config).mqtt
    except ConfigError as exc:
        raise CtlError("\n".join(exc.errors), USAGE) from None


def endpoint(ns: argparse.Namespace, mqtt: MqttCfg | None = None) -> tuple[str, int, str]:
    """Broker host, port and topic root: the options, else --config (`mqtt`), else
    CALIBD_MQTT__HOST/PORT/TOPIC_ROOT, else 127.0.0.1:1883 juno/calib."""
    host, port, root = ns.host, ns.port, ns.root
    if mqtt is not None:
        host, port, root = host or mqtt.host, port or mqtt.port, root or mqtt.topic_root
    env = os.environ
    try:
        port = port or int(env.get("CALIBD_MQTT__PORT") or 1883)
    except ValueError:
        raise CtlError("CALIBD_MQTT__PORT is not a port number", USAGE) from None
    host = host or env.get("CALIBD_MQTT__HOST") or "127.0.0.1"
    return host, port, root or env.get("CALIBD_MQTT__TOPIC_ROOT") or "juno/calib"


def credentials(ns: argparse.Namespace, mqtt: MqttCfg | None = None) -> Auth:
    """The operator's own broker account and TLS: the options, else CALIBCTL_* variables;
    the CA may come from [mqtt.tls] of --config. Files are read here, once (no event loop)."""
    env = os.environ
    username = ns.username or env.get("CALIBCTL_USERNAME") or None
    password = None
    password_file = ns.password_file or env.get("CALIBCTL_PASSWORD_FILE")
    try:
        if password_file:
            password = read_secret(Path(password_file)).get_secret_value()
        elif env.get("CALIBCTL_PASSWORD"):
            password = env["CALIBCTL_PASSWORD"]
        if password is not None and username is None:
            username = env.get("USER") or None
            if username is None:
                raise CtlError("a password without a user name: give --username", USAGE)
        if username is not None and not re.fullmatch(USERNAME_PATTERN, username):
            raise CtlError(f"--username {username!r}: letters, digits, . _ @ - only", USAGE)
        ca = ns.tls_ca or env.get("CALIBCTL_TLS_CA")
        config_tls = mqtt.tls if mqtt is not None else None
        if ca is None and config_tls is not None:
            ca = config_tls.ca_file
        if (ns.tls_cert is None) != (ns.tls_key is None):
            raise CtlError("--tls-cert and --tls-key go together", USAGE)
        if not (ns.tls or ca or ns.tls_cert or config_tls is not None):
            return Auth(username, password)
        cert = Path(ns.tls_cert) if ns.tls_cert else None
        key = Path(ns.tls_key) if ns.tls_key else None
        tls = client_tls_context(Path(ca) if ca else None, cert, key)
    except SecretFileError as exc:
        raise CtlError(str(exc), USAGE) from None
    return Auth(username, password, tls)


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


async def _go(
    ns: argparse.Namespace, opts: Options, where: tuple[str, int, str], auth: Auth
) -> int:
    host, port, root = where
    req = request(ns) if ns.job in ("action", "cmd", "global") else None
    async with CtlLink(host, port, root, operator=ns.operator, auth=auth) as link:
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
            code = export(directory, since=ns.since, fmt=ns.format, output=ns.output, what=ns.what)
        else:
            mqtt = daemon_mqtt(ns)
            where, auth = endpoint(ns, mqtt), credentials(ns, mqtt)
            code = asyncio.run(_go(ns, opts, where, auth))
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
