"""TCP_NODELAY on the MQTT links of the daemon and of calibctl, read back from the connected
socket (a private Mosquitto): without it a small command or reply can wait for Nagle's delayed
ACK (~40 ms), four times the ack-latency budget."""

from __future__ import annotations

import socket
from typing import Any

import aiomqtt

from calibd.config import MqttCfg
from calibd.core.commands import Inbound
from calibd.core.outbox import Outbox
from calibd.ctl.link import CtlLink
from calibd.mqtt import MqttEdge
from tests.conftest import Broker


def _nodelay(client: aiomqtt.Client) -> int:
    sock = client._client.socket()  # paho's connected socket
    assert isinstance(sock, socket.socket), sock
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


async def test_the_daemon_edge_socket(mosquitto: Broker) -> None:
    def handle(_: Inbound) -> None:
        raise AssertionError("nothing is received here")

    birth: dict[str, Any] = {"session": 1, "version": "test"}
    cfg = MqttCfg(host=mosquitto.host, port=mosquitto.port, topic_root="nodelay/calib")
    client = MqttEdge(cfg, Outbox(), handle, birth=birth)._client()
    async with client:
        assert _nodelay(client) == 1


async def test_the_calibctl_socket(mosquitto: Broker) -> None:
    async with CtlLink(mosquitto.host, mosquitto.port, "nodelay/calib") as link:
        assert _nodelay(link.client) == 1
