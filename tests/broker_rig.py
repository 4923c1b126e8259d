"""The production broker configuration (config/mosquitto/) on a private rig: the shipped
mosquitto.conf with its ports and paths moved into a work directory, a test CA, the ACL
rendered from the shipped roles.toml for a random topic root, and a password per account
(`mosquitto_passwd -b`). Plus a client factory logging in as any of those accounts."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import ssl
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt

from calibd.broker_acl import load_roles, render
from calibd.devbroker import PrivateBroker, free_ports
from tests.tls_ca import TestCa, make_ca

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "config" / "mosquitto" / "mosquitto.conf"
ROLES = ROOT / "config" / "mosquitto" / "roles.toml"
NODELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]

#: the options of the shipped config that name a file or directory, and the work-dir name
PATH_KEYS = {
    "password_file": "passwd",
    "acl_file": "acl",
    "cafile": "tls/ca.crt",
    "certfile": "tls/server.crt",
    "keyfile": "tls/server.key",
    "persistence_location": "persist/",
    "pid_file": "mosquitto.pid",
}


def adapt_conf(text: str, work: Path, port: int, tls_port: int) -> str:
    """The shipped config with its listeners on free loopback ports and its files in `work`;
    anything else it names on disk fails here, so this stays in step with the shipped file."""
    out = ["user root"] if os.geteuid() == 0 else []  # as root it would drop to `mosquitto`
    for line in text.splitlines():
        key = line.split(" ", 1)[0]
        if key in PATH_KEYS:
            line = f"{key} {work / PATH_KEYS[key]}"
        elif line == "listener 8883":
            line = f"listener {tls_port} 127.0.0.1"
        elif line == "listener 1883 127.0.0.1":
            line = f"listener {port} 127.0.0.1"
        elif key == "log_dest":
            line = f"log_dest file {work / 'mosquitto.log'}"
        elif not line.startswith("#"):
            assert not re.search(r"\s/\w", line), f"adapt_conf: unmapped path in {line!r}"
            assert not line.startswith("listener"), f"adapt_conf: unmapped {line!r}"
        out.append(line)
    return "\n".join(out) + "\n"


@dataclass
class SecureBroker:
    broker: PrivateBroker
    work: Path
    root: str
    tls_port: int
    ca: TestCa
    passwords: dict[str, str]
    users: dict[str, str] = field(default_factory=dict)  # user -> role

    @property
    def port(self) -> int:
        return self.broker.port

    def password_file(self, user: str) -> Path:
        """A file holding `user`'s password (as a client keeps it)."""
        path = self.work / "clients" / f"{user}.password"
        path.parent.mkdir(exist_ok=True)
        path.write_text(self.passwords[user] + "\n")
        return path

    def tls(self, cafile: Path | None = None) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(cafile or self.ca.ca_cert))
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        return ctx

    def client(
        self,
        user: str | None,
        *,
        password: str | None = None,
        tls: bool = False,
        cafile: Path | None = None,
        **kwargs: Any,
    ) -> aiomqtt.Client:
        """A v5 client logged in as `user` (its own password unless `password` is given), on
        the TLS listener with `tls` (trusting `cafile`, default the test CA) else plain."""
        if password is None and user is not None:
            password = self.passwords[user]
        return aiomqtt.Client(
            "127.0.0.1",
            self.tls_port if tls else self.port,
            username=user,
            password=password,
            tls_context=self.tls(cafile) if tls else None,
            protocol=aiomqtt.ProtocolVersion.V5,
            identifier=f"{user}-{uuid.uuid4().hex[:8]}",
            socket_options=NODELAY,
            timeout=5,
            **kwargs,
        )

    def stop(self) -> None:
        self.broker.stop()


def start_secure_broker(work: Path, root: str) -> SecureBroker:
    """The production config on free ports in `work`, every account of roles.toml with a
    fresh password; `root` is the topic root the ACL is rendered for."""
    work.mkdir(parents=True, exist_ok=True)
    ca = make_ca(work / "tls")
    ca.server_cert(work / "tls")
    roles = load_roles(ROLES)
    (work / "acl").write_text(render(roles, root))
    passwd = work / "passwd"
    passwd.touch()
    passwords = {user: secrets.token_urlsafe(12) for user in roles.users}
    exe = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
    for user, password in passwords.items():
        subprocess.run(
            [exe, "-b", str(passwd), user, password], check=True, capture_output=True, timeout=10
        )
    port, tls_port = free_ports(2)
    conf = adapt_conf(CONF.read_text(), work, port, tls_port)
    (work / "persist").mkdir(exist_ok=True)
    broker = PrivateBroker(work, port, conf=conf, extra_ports=(tls_port,)).start()
    return SecureBroker(broker, work, root, tls_port, ca, passwords, dict(roles.users))
