"""The production broker (config/mosquitto/: TLS, passwords, the ACL rendered from roles.toml)
on a private rig: every role against every kind of topic, logins, TLS, and the daemon, calibsim
and calibctl each on their own account over it."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import sqlite3
import time
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiomqtt
import pytest
import pytest_asyncio
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from tests.broker_rig import SecureBroker, start_secure_broker
from tests.conftest import BIN, Proc, make_config, start_daemon, start_sim
from tests.mqtt_probe import Probe
from tests.tls_ca import make_ca

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

# ---- the specification: what each role may write and read (relative topics) ---------------

SYSTEM_TOPICS = [
    "acu/cmd", "cmd", "acu/expert/cmd", "sim/acu/fault", "sim/acu/events", "sim/acu/truth",
    "acu/status", "program/status", "daemon/state", "acu/telemetry", "acu/reply", "reply",
    "events", "interlocks", "inventory", "deployments/summary", "daq/request", "daq/done",
    "runcontrol/permit", "acu/profile",
]  # fmt: skip
OPERATOR = {"acu/cmd", "cmd"}
DAEMON = {
    "daemon/state", "acu/status", "program/status", "acu/telemetry", "acu/reply", "reply",
    "events", "interlocks", "inventory", "deployments/summary", "daq/request", "acu/profile",
    "acu/cmd", "cmd", "acu/expert/cmd",  # to clear a retained command
}  # fmt: skip
#: user -> topics of SYSTEM_TOPICS it may publish (besides its own inbox, which all may)
WRITES: dict[str, set[str]] = {
    "dashboard": set(),
    "shifter": OPERATOR,
    "expert": OPERATOR | {"acu/expert/cmd", "sim/acu/fault"},
    "tester": OPERATOR | {"sim/acu/fault"},
    "calibd": DAEMON,
    "calibsim": {"sim/acu/events", "sim/acu/truth"},
    "runcontrol": {"runcontrol/permit"},
    "daq": {"daq/done"},
}
#: users that read everything under the root; the others read only this (and their inbox)
READS_ALL = {"dashboard", "shifter", "expert", "tester", "calibd", "runcontrol", "daq"}
READS = {"calibsim": {"sim/acu/fault"}}


def may_write(user: str, topic: str) -> bool:
    if topic.startswith("client/"):
        return topic.split("/")[1] == user or user == "calibd"  # the daemon replies there
    return topic in WRITES[user]


def may_read(user: str, topic: str) -> bool:
    if topic.startswith("elsewhere/"):
        return False
    if user in READS_ALL:
        return True
    return topic in READS.get(user, set()) or topic.startswith(f"client/{user}/")


# ---- fixtures ------------------------------------------------------------------------------


def _root(tag: str) -> str:
    return f"t{os.getpid()}{tag}{time.monotonic_ns() % 10**9}/calib"


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureBroker]:
    sb = start_secure_broker(tmp_path_factory.mktemp("acl-broker"), _root("m"))
    yield sb
    sb.stop()


@dataclass
class Rig:
    broker: SecureBroker
    tmp: Path
    config: Path
    viewer: Probe
    sim: Proc
    daemon: Proc

    @property
    def root(self) -> str:
        return self.broker.root


def probe_as(sb: SecureBroker, user: str, *, tls: bool = True) -> Probe:
    """The tests' recording probe, logged in as `user`."""
    probe = Probe(sb.broker.host, sb.port, sb.root)
    probe.client = sb.client(user, tls=tls)
    return probe


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def rig(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Rig]:
    """One stack for the module: calibd (account `calibd`) and calibsim (`calibsim`) over TLS
    with their password files, a viewer (`dashboard`) recording everything."""
    tmp = tmp_path_factory.mktemp("acl-stack")
    sb = start_secure_broker(tmp / "broker", _root("s"))
    mqtt = '[mqtt]\nhost = "127.0.0.1"\n'
    config = make_config(
        tmp,
        sb.tls_port,
        root=sb.root,
        replace={
            mqtt: f'{mqtt}username = "calibd"\npassword_file = "{sb.password_file("calibd")}"\n'
        },
        extra=f'\n[mqtt.tls]\nca_file = "{sb.ca.ca_cert}"\n\n[mqtt.sim]\nusername = "calibsim"\n'
        f'password_file = "{sb.password_file("calibsim")}"\n',
    )
    procs: list[Proc] = []
    try:
        sim = await start_sim(config, tmp)
        procs.append(sim)
        daemon = start_daemon(config, tmp)
        procs.append(daemon)
        async with probe_as(sb, "dashboard") as viewer:
            await viewer.wait(
                lambda: (
                    (viewer.last("daemon/state") or {}).get("state") == "online"
                    and viewer.last("acu/status") is not None
                    and viewer.last("sim/acu/truth") is not None  # calibsim logged in too
                ),
                30.0,
                f"daemon online over TLS (logs in {tmp})",
            )
            yield Rig(sb, tmp, config, viewer, sim, daemon)
    finally:
        for proc in reversed(procs):
            proc.stop()
        sb.stop()


# ---- every role x every kind of topic ------------------------------------------------------


async def test_each_role_writes_and_reads_exactly_what_it_should(broker: SecureBroker) -> None:
    """Every account publishes to every topic (then a sentinel, last, from the daemon's
    account into each inbox): what each one receives is exactly the allowed (writer, topic)
    pairs it may read. Mosquitto keeps per-client order, so a message that was let through
    would arrive before the sentinel."""
    root = broker.root
    users = list(WRITES)
    got: dict[str, set[tuple[str, str]]] = {u: set() for u in users}
    done = {u: asyncio.Event() for u in users}

    async def listen(user: str, client: aiomqtt.Client) -> None:
        async for msg in client.messages:
            topic = msg.topic.value[len(root) + 1 :]
            if topic == f"client/{user}/sentinel":
                done[user].set()
            elif isinstance(msg.payload, bytes) and not topic.endswith("/sentinel"):
                got[user].add((json.loads(msg.payload)["from"], topic))

    sent: list[tuple[str, str]] = []
    async with contextlib.AsyncExitStack() as stack, asyncio.TaskGroup() as tg:
        clients = {u: broker.client(u, tls=u in ("expert", "dashboard")) for u in users}
        for client in clients.values():
            await stack.enter_async_context(client)
            await client.subscribe("#", qos=1)  # granted; delivery is filtered by the ACL
        readers = [tg.create_task(listen(u, c)) for u, c in clients.items()]
        for user, client in clients.items():
            other = "shifter" if user == "dashboard" else "dashboard"
            for topic in [*SYSTEM_TOPICS, f"client/{user}/x", f"client/{other}/x"]:
                doc = json.dumps({"from": user}).encode()
                await client.publish(f"{root}/{topic}", doc, qos=1)
                sent.append((user, topic))
            await client.publish(f"elsewhere/{user}", b'{"from": "x"}', qos=1)
        async with broker.client("calibd") as daemon:
            for user in users:
                await daemon.publish(f"{root}/client/{user}/sentinel", b"", qos=1)
        async with asyncio.timeout(10):
            for event in done.values():
                await event.wait()
        for task in readers:
            task.cancel()

    for user in users:
        expected = {(w, t) for w, t in sent if may_write(w, t) and may_read(user, t)}
        assert got[user] == expected, (
            user,
            f"unexpected {sorted(got[user] - expected)}",
            f"missing {sorted(expected - got[user])}",
        )
    # the core of it, spelled out: only the daemon's status reaches anyone
    assert {w for w, t in got["dashboard"] if t == "acu/status"} == {"calibd"}
    assert {w for w, t in got["calibd"] if t == "acu/expert/cmd"} == {"expert", "calibd"}
    assert {w for w, t in got["calibsim"] if t == "sim/acu/fault"} == {"expert", "tester"}


# ---- logins and TLS ------------------------------------------------------------------------


WRONG = "not-the-password"


async def _refused(client: aiomqtt.Client) -> BaseException:
    try:
        async with asyncio.timeout(8):
            async with client:
                pass
    except (aiomqtt.MqttError, TimeoutError) as exc:
        return exc
    raise AssertionError("the broker accepted the connection")


@pytest.mark.parametrize("tls", [False, True], ids=["loopback", "tls"])
async def test_wrong_or_no_password_is_refused(broker: SecureBroker, tls: bool) -> None:
    for client in (
        broker.client("shifter", password=WRONG, tls=tls),
        broker.client("shifter", password="", tls=tls),
        broker.client(None, tls=tls),  # anonymous
        broker.client("nobody", password=WRONG, tls=tls),
    ):
        exc = await _refused(client)
        assert isinstance(exc, aiomqtt.MqttCodeError), exc
        assert getattr(exc.rc, "value", exc.rc) in (134, 135), exc


def _connect_packet(user: str, password: str) -> bytes:
    """A bare MQTT 3.1.1 CONNECT with user name and password."""

    def field(text: str) -> bytes:
        return len(text).to_bytes(2, "big") + text.encode()

    body = field("MQTT") + bytes([4, 0xC2]) + (60).to_bytes(2, "big")
    body += field("raw-probe") + field(user) + field(password)
    return bytes([0x10, len(body)]) + body


async def _answer(port: int, packet: bytes) -> bytes:
    """What the broker sends back to `packet` on a plain TCP connection (b"" if it hangs up)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(packet)
        await writer.drain()
        async with asyncio.timeout(5):
            return await reader.read(4)
    except ConnectionResetError:
        return b""
    finally:
        writer.close()
        with contextlib.suppress(ConnectionResetError):
            await writer.wait_closed()


async def test_tls_listener_needs_tls_and_the_right_ca(
    broker: SecureBroker, tmp_path: Path
) -> None:
    # plain MQTT: a CONNACK (accepted) on the loopback listener, nothing on the TLS one
    packet = _connect_packet("shifter", broker.passwords["shifter"])
    assert await _answer(broker.port, packet) == b"\x20\x02\x00\x00"
    assert await _answer(broker.tls_port, packet) == b""
    # a client that trusts another CA refuses the broker's certificate
    other = make_ca(tmp_path / "other")
    with warnings.catch_warnings():  # paho leaves a failed handshake's socket to the GC
        warnings.simplefilter("ignore", ResourceWarning)
        message = str(await _refused(broker.client("shifter", tls=True, cafile=other.ca_cert)))
        for _ in range(3):
            await asyncio.sleep(0)
        gc.collect()
    assert "CERTIFICATE_VERIFY_FAILED" in message, message
    # the test CA, by IP and by name, TLS 1.2 at least
    for host in ("127.0.0.1", "localhost"):
        client = broker.client("shifter", tls=True)
        client._hostname = host
        async with client:
            sock = client._client.socket()
            assert sock.version() in ("TLSv1.2", "TLSv1.3")  # type: ignore[union-attr]


# ---- the daemon, calibsim and calibctl over it ---------------------------------------------


async def test_daemon_status_retained_for_viewers_and_not_spoofable(rig: Rig) -> None:
    sb = rig.broker
    async with sb.client("dashboard", tls=True) as spoofer:
        await spoofer.publish(f"{rig.root}/acu/status", b'{"spoof": true}', qos=1, retain=True)
        await spoofer.publish(f"{rig.root}/daemon/state", b'{"state": "offline"}', qos=1)
    async with probe_as(sb, "dashboard") as fresh:
        status = await fresh.wait(lambda: fresh.last("acu/status"), 5.0, "retained acu status")
        assert status["system"] == "acu" and "state" in status and "spoof" not in status
        assert next(m.retain for m in fresh.msgs if m.topic.endswith("/acu/status"))
    assert not [d for d in rig.viewer.on("acu/status") if "spoof" in d]
    assert all(d["state"] == "online" for d in rig.viewer.on("daemon/state"))


async def test_operator_and_expert_topics(rig: Rig) -> None:
    sb = rig.broker
    async with probe_as(sb, "shifter", tls=False) as operator, probe_as(sb, "expert") as expert:
        # an operator's maintenance action on the operator topic: unauthorized
        cmd = await operator.send("house", "checkout", {"source": "Mn54-1"})
        assert (await operator.ack(cmd, "house"))["error"]["code"] == "unauthorized"
        # on the expert topic, from an expert, with its reply in the expert's own inbox
        inbox = f"{rig.root}/client/expert/t1"
        props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        props.ResponseTopic, props.CorrelationData = inbox, b"t1"
        doc = {"id": "x-exp-1", "action": "checkout", "args": {"source": "Mn54-1"}}
        await expert.publish("house/expert/cmd", doc, properties=props)
        replies = await expert.wait(
            lambda: got if len(got := expert.on("client/expert/t1")) >= 2 else None,
            5.0,
            "expert replies",
        )
        assert [r["result"] for r in replies] == ["accepted", "completed"], replies
        # the operator cannot write into the expert's inbox, nor publish on the expert topic
        await operator.publish("client/expert/t1", {"id": "x-exp-1", "result": "forged"})
        await operator.publish("house/expert/cmd", {"id": "x-op-2", "action": "return"})
        rep = await operator.run("acu", "status")  # after both, in order
        assert rep["result"] == "completed"
        await rig.viewer.wait(lambda: rig.viewer.replies(rep["id"]), 5.0, "the viewer's copy")
        assert len(expert.on("client/expert/t1")) == 2
        assert not rig.viewer.replies("x-op-2", "house")


async def test_viewer_command_never_reaches_the_daemon(rig: Rig) -> None:
    sb = rig.broker
    async with probe_as(sb, "dashboard") as viewer, probe_as(sb, "shifter") as operator:
        await viewer.send("acu", "home", cmd_id="x-viewer-1")
        await viewer.send(None, "estop", cmd_id="x-viewer-2")
        rep = await operator.run("acu", "status", timeout_s=10)  # published after the viewer's
        assert rep["result"] == "completed"
        await rig.viewer.wait(lambda: rig.viewer.replies(rep["id"]), 5.0, "the viewer's copy")
        audit = rig.tmp / "state" / "calibd.sqlite3"
        ids = await rig.viewer.wait(lambda: _audited(audit, rep["id"]), 10.0, "audit written")
    for cmd_id in ("x-viewer-1", "x-viewer-2"):
        seen = [m for m in rig.viewer.msgs if isinstance(m.payload, dict)]
        assert not [m for m in seen if m.payload.get("id") == cmd_id and "result" in m.payload]
        assert cmd_id not in ids
    assert (rig.viewer.last("daemon/state") or {}).get("state") == "online"


def _audited(path: Path, cmd_id: str) -> set[str] | None:
    """Every command id in the store's audit, once `cmd_id` is there."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
    try:
        rows = {str(r[0]) for r in db.execute("SELECT id FROM audit WHERE id IS NOT NULL")}
    finally:
        db.close()
    return rows if cmd_id in rows else None


@dataclass
class Ran:
    rc: int
    out: str
    err: str


async def calibctl(rig: Rig, user: str, *args: str, password: Path | None = None) -> Ran:
    sb = rig.broker
    proc = await asyncio.create_subprocess_exec(
        str(BIN / "calibctl"),
        *("--host", "127.0.0.1", "--port", str(sb.tls_port), "--root", rig.root),
        *("--username", user, "--password-file", str(password or sb.password_file(user))),
        *("--tls-ca", str(sb.ca.ca_cert), "--timeout", "20", *args),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if not k.startswith(("CALIBD_", "CALIBCTL_"))},
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode is not None
    return Ran(proc.returncode, out.decode(), err.decode())


async def test_calibctl_accounts(rig: Rig, tmp_path: Path) -> None:
    # an operator's command over TLS; the reply comes back to its own inbox
    ran = await calibctl(rig, "shifter", "--json", "cmd", "acu", "status")
    assert ran.rc == 0, ran
    assert [json.loads(line)["result"] for line in ran.out.splitlines()] == [
        "accepted",
        "completed",
    ]
    # a viewer's command: the broker refuses it at once (exit 2), the daemon never sees it
    ran = await calibctl(rig, "dashboard", "acu", "home")
    assert ran.rc == 2 and "may not publish" in ran.err and "Traceback" not in ran.err, ran
    # a wrong password: a clear refusal, exit 2
    wrong = tmp_path / "wrong.password"
    wrong.write_text("not-it\n")
    ran = await calibctl(rig, "shifter", "status", password=wrong)
    assert ran.rc == 2 and "refused the login of 'shifter'" in ran.err, ran
    assert "Traceback" not in ran.err
    # but a viewer reads the status
    ran = await calibctl(rig, "dashboard", "--json", "status", "acu")
    assert ran.rc == 0 and '"acu"' in ran.out, ran
