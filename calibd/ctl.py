"""calibctl: the operator's command line over MQTT (its own thin link, not the daemon's edge).

calibctl [--config FILE | --host H --port P --root R] status [SYSTEM]
calibctl ... cmd SYSTEM ACTION [key=value ...]      (SYSTEM `-` for the global {root}/cmd)
calibctl ... watch [SUFFIX]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
import time
import uuid
from typing import Any

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

NODELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]


class CtlLink:
    """A short-lived operator connection: commands with a v5 Response Topic, status reads."""

    def __init__(self, host: str, port: int, root: str, operator: str = "calibctl") -> None:
        self.root = root.rstrip("/")
        self.operator = operator
        self.inbox = f"{self.root}/ctl/{uuid.uuid4().hex[:12]}"
        self.client = aiomqtt.Client(
            host,
            port,
            protocol=aiomqtt.ProtocolVersion.V5,
            socket_options=NODELAY,
            identifier=f"calibctl-{uuid.uuid4().hex[:8]}",
            timeout=5,
        )

    async def __aenter__(self) -> CtlLink:
        async with asyncio.timeout(5):
            await self.client.__aenter__()
            await self.client.subscribe(f"{self.inbox}/#", qos=1)
        return self

    async def __aexit__(self, *exc: object) -> None:
        async with asyncio.timeout(5):
            await self.client.__aexit__(None, None, None)

    async def command(
        self, system: str | None, action: str, args: dict[str, Any], timeout_s: float = 3600.0
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Send a command; return (immediate reply, final reply or None if rejected)."""
        cmd_id = f"ctl-{uuid.uuid4().hex[:12]}"
        corr = cmd_id.encode()
        props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        props.ResponseTopic = self.inbox
        props.CorrelationData = corr
        topic = f"{self.root}/cmd" if system is None else f"{self.root}/{system}/cmd"
        doc = {"id": cmd_id, "action": action, "args": args, "operator": self.operator}
        await self.client.publish(topic, json.dumps(doc).encode(), qos=1, properties=props)
        first: dict[str, Any] | None = None
        async with asyncio.timeout(timeout_s):
            async for msg in self.client.messages:
                if getattr(msg.properties, "CorrelationData", None) != corr:
                    continue
                rep = json.loads(
                    bytes(msg.payload) if isinstance(msg.payload, bytes | bytearray) else b"{}"
                )
                if first is None:
                    first = rep
                    if rep["result"] == "rejected" or rep["final"]:
                        return rep, None if rep["result"] == "rejected" else rep
                    continue
                return first, rep
        raise TimeoutError

    async def statuses(self, system: str | None, wait_s: float = 1.0) -> dict[str, dict[str, Any]]:
        topic = f"{self.root}/{system or '+'}/status"
        await self.client.subscribe(topic, qos=1)
        out: dict[str, dict[str, Any]] = {}
        try:
            async with asyncio.timeout(wait_s):
                async for msg in self.client.messages:
                    if msg.topic.matches(topic) and isinstance(msg.payload, bytes) and msg.payload:
                        doc = json.loads(msg.payload)
                        out[doc.get("system", msg.topic.value)] = doc
        except TimeoutError:
            pass
        return out

    async def watch(self, suffix: str) -> None:
        await self.client.subscribe(f"{self.root}/{suffix}", qos=1)
        async for msg in self.client.messages:
            payload = (
                msg.payload.decode(errors="replace")
                if isinstance(msg.payload, bytes)
                else msg.payload
            )
            print(f"{time.strftime('%H:%M:%S')} {msg.topic.value} {payload}", flush=True)


def parse_kv(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep:
            raise SystemExit(f"calibctl: argument {item!r} is not key=value")
        try:
            out[key] = json.loads(raw)
        except ValueError:
            out[key] = raw
    return out


def _endpoint(args: argparse.Namespace) -> tuple[str, int, str]:
    host, port, root = args.host, args.port, args.root
    if args.config:
        from calibd.config import ConfigError, load_config

        try:
            mqtt = load_config(args.config).mqtt
        except ConfigError as exc:
            raise SystemExit("\n".join(exc.errors)) from None
        host, port, root = host or mqtt.host, port or mqtt.port, root or mqtt.topic_root
    return host or "127.0.0.1", port or 1883, root or "juno/calib"


async def _main(args: argparse.Namespace) -> int:
    host, port, root = _endpoint(args)
    async with CtlLink(host, port, root, operator=args.operator) as link:
        if args.command == "status":
            for doc in (await link.statuses(args.system)).values():
                print(json.dumps(doc, indent=2))
            return 0
        if args.command == "watch":
            await link.watch(args.suffix)
            return 0
        system = None if args.system == "-" else args.system
        first, final = await link.command(system, args.action, parse_kv(args.kv))
        print(json.dumps(first))
        if final is not None and final is not first:
            print(json.dumps(final))
        return 0 if final is not None and final["result"] == "completed" else 1


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="calibctl", description="calibd operator CLI over MQTT")
    p.add_argument("--config", default=os.environ.get("CALIBD_CONFIG"))
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--root")
    p.add_argument("--operator", default=os.environ.get("USER", "operator"))
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("status")
    s.add_argument("system", nargs="?")
    s = sub.add_parser("cmd")
    s.add_argument("system")
    s.add_argument("action")
    s.add_argument("kv", nargs="*")
    s = sub.add_parser("watch")
    s.add_argument("suffix", nargs="?", default="#")
    args = p.parse_args(argv)
    try:
        raise SystemExit(asyncio.run(_main(args)))
    except aiomqtt.MqttError as exc:
        print(f"calibctl: MQTT: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None
