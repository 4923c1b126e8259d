"""Endpoint strings from the configuration: ``tcp://HOST:PORT`` and ``serial:///PATH``."""

from __future__ import annotations

import ipaddress
import posixpath
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class TcpEndpoint:
    """A Modbus TCP server (or gateway)."""

    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"tcp://{host}:{self.port}"


@dataclass(frozen=True)
class SerialEndpoint:
    """A serial line: a device node, or a symlink to a simulator's pseudo-terminal."""

    path: str
    baudrate: int = 9600

    def __str__(self) -> str:
        return f"serial://{self.path}?baudrate={self.baudrate}"


Endpoint = TcpEndpoint | SerialEndpoint


def parse_endpoint(text: str) -> Endpoint:
    """Parse ``tcp://HOST:PORT`` or ``serial:///PATH[?baudrate=N]``; ValueError otherwise."""
    parts = urlsplit(text.strip())
    if parts.scheme == "tcp":
        return _parse_tcp(text, parts.netloc, parts.path, parts.query, parts.fragment)
    if parts.scheme == "serial":
        if parts.netloc:
            raise ValueError(
                f"bad endpoint {text!r}: serial endpoints have an absolute path and no host, "
                "e.g. 'serial:///dev/ttyUSB0?baudrate=9600' (three slashes)"
            )
        return _parse_serial(text, parts.path, parts.query, parts.fragment)
    raise ValueError(
        f"bad endpoint {text!r}: expected 'tcp://HOST:PORT' or 'serial:///PATH?baudrate=N'"
    )


def _parse_tcp(text: str, netloc: str, path: str, query: str, fragment: str) -> TcpEndpoint:
    if path not in ("", "/") or query or fragment:
        raise ValueError(f"bad endpoint {text!r}: 'tcp://HOST:PORT' takes no path or query")
    parts = urlsplit(f"//{netloc}")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"bad endpoint {text!r}: port must be 1..65535") from exc
    host = parts.hostname
    if not host or port is None or port == 0 or parts.username or parts.password:
        raise ValueError(f"bad endpoint {text!r}: expected 'tcp://HOST:PORT' with a port 1..65535")
    return TcpEndpoint(host=host, port=port)


def _parse_serial(text: str, path: str, query: str, fragment: str) -> SerialEndpoint:
    if not path.startswith("/") or path.endswith("/") or fragment:
        raise ValueError(f"bad endpoint {text!r}: expected an absolute path to a device node")
    params = parse_qs(query, keep_blank_values=True, strict_parsing=False)
    unknown = set(params) - {"baudrate"}
    if unknown:
        raise ValueError(f"bad endpoint {text!r}: unknown option(s) {sorted(unknown)}")
    baudrate = 9600
    if "baudrate" in params:
        values = params["baudrate"]
        if len(values) != 1 or not values[0].isdigit() or int(values[0]) <= 0:
            raise ValueError(f"bad endpoint {text!r}: baudrate must be a positive integer")
        baudrate = int(values[0])
    return SerialEndpoint(path=_normalise(path), baudrate=baudrate)


def is_simulated(ep: Endpoint) -> bool:
    """True for TCP on a loopback address, or a serial path outside ``/dev/``."""
    if isinstance(ep, TcpEndpoint):
        if ep.host.lower() == "localhost":
            return True
        try:
            return ipaddress.ip_address(ep.host).is_loopback
        except ValueError:
            return False
    return not _normalise(ep.path).startswith("/dev/")


def _normalise(path: str) -> str:
    """Collapse ``..`` and repeated slashes (``//dev/x`` is ``/dev/x``); symlinks are kept."""
    return posixpath.normpath("/" + path.lstrip("/"))
