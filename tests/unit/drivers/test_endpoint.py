"""Endpoint parsing and the simulated-endpoint rule."""

from __future__ import annotations

import pytest

from drivers.endpoint import SerialEndpoint, TcpEndpoint, is_simulated, parse_endpoint


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tcp://127.0.0.1:15020", TcpEndpoint("127.0.0.1", 15020)),
        ("tcp://gateway.juno:502", TcpEndpoint("gateway.juno", 502)),
        ("tcp://[::1]:502", TcpEndpoint("::1", 502)),
        (
            "serial:///tmp/calibsim/acu-loadcells?baudrate=9600",
            SerialEndpoint("/tmp/calibsim/acu-loadcells", 9600),
        ),
        ("serial:///dev/ttyUSB0?baudrate=19200", SerialEndpoint("/dev/ttyUSB0", 19200)),
        ("serial:///dev/ttyUSB0", SerialEndpoint("/dev/ttyUSB0", 9600)),
    ],
)
def test_parse_valid(text: str, expected: TcpEndpoint | SerialEndpoint) -> None:
    assert parse_endpoint(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "127.0.0.1:502",
        "udp://127.0.0.1:502",
        "tcp://127.0.0.1",
        "tcp://127.0.0.1:0",
        "tcp://127.0.0.1:70000",
        "tcp://127.0.0.1:port",
        "tcp://:502",
        "tcp://127.0.0.1:502/x",
        "tcp://127.0.0.1:502?baudrate=9600",
        "serial://dev/ttyUSB0",
        "serial://",
        "serial:///dev/ttyUSB0?baudrate=fast",
        "serial:///dev/ttyUSB0?baudrate=0",
        "serial:///dev/ttyUSB0?parity=N",
    ],
)
def test_parse_invalid(text: str) -> None:
    with pytest.raises(ValueError, match="endpoint"):
        parse_endpoint(text)


@pytest.mark.parametrize(
    ("text", "simulated"),
    [
        ("tcp://127.0.0.1:15020", True),
        ("tcp://127.1.2.3:15020", True),
        ("tcp://localhost:15020", True),
        ("tcp://[::1]:502", True),
        ("tcp://192.168.1.10:502", False),
        ("tcp://gateway.juno:502", False),
        ("serial:///tmp/calibsim/acu-loadcells", True),
        ("serial:///dev/ttyUSB0", False),
        ("serial:///dev/pts/3", False),
        ("serial:////dev/ttyUSB0", False),
        ("serial:///tmp/../dev/ttyUSB0", False),
    ],
)
def test_is_simulated(text: str, simulated: bool) -> None:
    assert is_simulated(parse_endpoint(text)) is simulated


def test_str_round_trips() -> None:
    for text in ("tcp://127.0.0.1:15020", "serial:///tmp/x?baudrate=9600", "tcp://[::1]:502"):
        assert str(parse_endpoint(text)) == text
