"""Private rigs for the demo, the tests and the benchmarks (never for production).

A private Mosquitto:

Debian's mosquitto on a free loopback port, `set_tcp_nodelay true` (see deps.md: without it a
QoS-1 round trip costs ~40-90 ms of Nagle delay), no persistence, anonymous.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (bind to 0, read, close; a tiny race is accepted)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_ports(count: int) -> list[int]:
    """`count` distinct free ports: all sockets stay bound until every port is chosen (the
    kernel may hand out the same port twice to sockets bound and closed one after another)."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    """Block until 127.0.0.1:`port` accepts connections; raise if `proc` died first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise TimeoutError(f"port {port} not listening after {timeout_s} s")


def mosquitto_exe() -> str | None:
    return shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")


class PrivateBroker:
    """`mosquitto -c CONF` on a free port, its config in `workdir`.

    By default anonymous on one loopback port. With `conf` (the text of a whole config whose
    plain listener is `port`, e.g. the production one adapted to temp paths by the tests),
    that config, waiting for `port` and every one of `extra_ports` (a TLS listener)."""

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        *,
        conf: str | None = None,
        extra_ports: tuple[int, ...] = (),
    ) -> None:
        exe = mosquitto_exe()
        if exe is None:
            raise FileNotFoundError("mosquitto is not installed (make test / make demo install it)")
        self.exe = exe
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.extra_ports = extra_ports
        self.conf = workdir / "mosquitto.conf"
        self.conf.write_text(
            conf
            if conf is not None
            else f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
            "set_tcp_nodelay true\n" + ("user root\n" if os.geteuid() == 0 else "")
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> PrivateBroker:
        self.proc = subprocess.Popen([self.exe, "-c", str(self.conf)], stderr=subprocess.DEVNULL)
        for port in (self.port, *self.extra_ports):
            wait_port(port, self.proc)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)

    def restart(self) -> None:
        self.stop()
        self.start()


def private_config(
    src: Path,
    work: Path,
    *,
    mqtt_port: int | None = None,
    topic_root: str | None = None,
    time_scale: float | None = None,
) -> Path:
    """A copy of a simulator config for a private rig in `work`: every loopback Modbus port
    replaced by a free one, pty links and state in `work`, optionally another broker port,
    topic root and time scale. So demos, tests and benchmarks never collide."""
    text = src.read_text()
    ports = sorted(set(re.findall(r"tcp://127\.0\.0\.1:(\d+)", text)))
    for port, new in zip(ports, free_ports(len(ports)), strict=True):
        text = text.replace(f"tcp://127.0.0.1:{port}", f"tcp://127.0.0.1:{new}")
    text = re.sub(r"serial://(/[^?\"]*/)", lambda _m: f"serial://{work}/pty/", text)
    text = re.sub(r'(?ms)^(\[state\]\n.*?^)dir = ".*?"$', rf'\1dir = "{work}/state"', text)
    if mqtt_port is not None:
        text = re.sub(r"(?m)^port = \d+$", f"port = {mqtt_port}", text)
    if topic_root is not None:
        text = re.sub(r'(?m)^topic_root = ".*"$', f'topic_root = "{topic_root}"', text)
    if time_scale is not None:
        text = re.sub(r"(?m)^time_scale = .*$", f"time_scale = {time_scale}", text)
    path = work / "calibd.toml"
    path.write_text(text)
    return path
