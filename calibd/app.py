"""Composition root: buses -> drivers -> subsystems -> MQTT edge, under one root TaskGroup."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog

from calibd import __version__
from calibd.assembly import build
from calibd.buses import Buses
from calibd.config import Settings
from calibd.core.deployment import DeploymentSystem
from calibd.core.dispatcher import Dispatcher
from calibd.core.journal import SystemJournal
from calibd.core.outbox import Outbox
from calibd.core.subsystem import Subsystem
from calibd.core.timefmt import iso
from calibd.interlocks import InterlockBoard
from calibd.mqtt import MqttEdge
from calibd.program.daq import DONE_TOPIC, Daq
from calibd.program.runs import RunLog, last_run
from calibd.program.sequencer import Sequencer
from calibd.shutdown import stop_plant
from calibd.state import next_session
from calibd.store.db import Store, StoreError
from calibd.store.deployments import DeploymentLog
from calibd.store.inventory import Inventory
from calibd.store.ledger import CommandLedger
from calibd.store.profiles import ProfileLog
from calibd.store.snapshots import load_snapshots
from calibd.store.writer import Writer
from calibd.subsystems.house import House
from calibd.systemd import sd_notify, watchdog_interval_s
from calibd.watchdog import Liveness, Watchdog, control_loops, daemon_status

log = structlog.get_logger("calibd.app", subsystem="daemon")


async def _stop_on_signal(
    stopping: asyncio.Event,
    control: list[asyncio.Task[Any]],
    subsystems: dict[str, Subsystem],
    outbox: Outbox,
    main: asyncio.Task[Any],
) -> None:
    """On the first SIGTERM/SIGINT: drives halted and seen standing (calibd/shutdown.py), then
    the rest is cancelled (the edge publishes `offline` last)."""
    await stopping.wait()
    sd_notify("STOPPING=1", "STATUS=stopping: halting every drive")
    log.info("stop_requested", reason="signal")
    await stop_plant(control, subsystems, outbox)
    main.cancel()


#: how long `online` waits for every system's first reading (a dead device fails sooner)
FIRST_READINGS_S = 15.0


async def _first_readings(subsystems: dict[str, Subsystem], edge: MqttEdge) -> None:
    """Let the edge say `online` once every system has read (or failed to read) its hardware."""
    try:
        async with asyncio.timeout(FIRST_READINGS_S):
            for sub in subsystems.values():
                await sub.first_poll.wait()
    except TimeoutError:
        late = sorted(n for n, s in subsystems.items() if not s.first_poll.is_set())
        log.error("first_readings_late", subsystems=late, after_s=FIRST_READINGS_S)
    edge.ready.set()


async def _halt_everything(buses: Buses, subsystems: dict[str, Any]) -> None:
    """Stop every drive (a crashed daemon may have left one moving); never raises."""
    try:
        async with asyncio.timeout(10.0):
            await buses.connect_all()
            for name, sub in subsystems.items():
                if isinstance(sub, DeploymentSystem):
                    await sub.hw.halt_all()
                    log.warning("halted_before_exit", subsystem=name)
    except Exception as exc:
        log.error("halt_before_exit_failed", error=repr(exc))
    finally:
        await buses.close_all()


async def run_daemon(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM (or cancellation); drives are stopped on the way out."""
    session = await asyncio.to_thread(next_session, settings.state.dir)
    started_at = iso(datetime.now(UTC))
    outbox = Outbox(settings.mqtt.outbound_queue)
    buses = Buses()
    subsystems = build(settings, buses, outbox)
    store = Store.in_dir(settings.state.dir)
    try:
        await store.open()
    except StoreError:
        # refuse to start on a store that cannot be trusted, but leave the plant safe first
        await _halt_everything(buses, subsystems)
        await store.close()
        raise
    writer = Writer(store)
    ledger = CommandLedger(writer)
    outbox.taps.append(ledger.tap)
    house = subsystems["house"]
    assert isinstance(house, House)
    board = InterlockBoard(subsystems, house, outbox, settings.interlocks)
    snapshots = await load_snapshots(store)
    first_start = store.created and session == 1
    if store.created and not first_start:
        log.error(
            "store_missing",
            path=str(store.path),
            session=session,
            hint="the daemon ran here before: a new, empty store was created; every system"
            " with a source off its home switch latches position_mismatch",
        )
    deployment_systems = [n for n, s in subsystems.items() if isinstance(s, DeploymentSystem)]
    inventory = Inventory(writer, outbox, {n: n.rstrip("0123456789") for n in deployment_systems})
    await inventory.load(settings.inventory)
    deplog = DeploymentLog(writer, outbox, systems=deployment_systems, session=session)
    await deplog.load()
    outbox.taps.append(deplog.tap)
    profiles = ProfileLog(writer, session=session)  # temperature profiles (acu `profile`)
    profiles.close_interrupted()
    outbox.taps.append(profiles.tap)
    for name, sub in subsystems.items():
        sub.inventory = inventory
        if isinstance(sub, DeploymentSystem):
            journal = SystemJournal(name, writer, snapshots.get(name), first_start=first_start)
            sub.attach_journal(journal, settings.state.recovery_tolerance_counts)
    dispatcher = Dispatcher(
        subsystems, outbox, board, seen=await ledger.recent_ids(), on_new_id=ledger.add_id
    )
    daq = Daq(settings.program, outbox, settings.sim.time_scale)
    sequencer = Sequencer(settings, dispatcher, subsystems, outbox, RunLog(writer), inventory, daq)
    dispatcher.programs = sequencer
    interrupted = await last_run(store)
    birth: dict[str, Any] = {"version": __version__, "session": session, "started_at": started_at}
    watch: dict[str, Callable[[bytes], None]] = {}
    permit = settings.interlocks.run_permit
    if permit.required_for:
        watch[permit.topic_under(settings.mqtt.topic_root)] = board.set_permit
    if settings.program.daq == "handshake":
        watch[f"{settings.mqtt.topic_root.rstrip('/')}/{DONE_TOPIC}"] = daq.on_done
    edge = MqttEdge(settings.mqtt, outbox, dispatcher.handle, birth=birth, watch=watch)
    structlog.contextvars.bind_contextvars(session=session)
    log.info("starting", version=__version__, session=session, time_scale=settings.sim.time_scale)

    main = asyncio.current_task()
    loop = asyncio.get_running_loop()
    assert main is not None

    stopping = asyncio.Event()

    def on_signal() -> None:
        if stopping.is_set():  # a second signal: stop at once (drives still halted on the way)
            sd_notify("STOPPING=1")
            main.cancel()
        stopping.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    try:
        await buses.connect_all()
        async with asyncio.TaskGroup() as tg:
            # stopped first on a signal, in this order: no new command, then the drives
            control = [tg.create_task(sequencer.run(interrupted), name="program")]
            for name, sub in subsystems.items():
                control.append(tg.create_task(sub.run(), name=f"subsystem:{name}"))
            control.append(tg.create_task(board.run(), name="interlocks"))
            tg.create_task(writer.run(), name="store-writer")
            tg.create_task(edge.run(), name="mqtt")
            tg.create_task(_first_readings(subsystems, edge), name="first-readings")
            # READY=1 once `online` is out; WATCHDOG=1 only while the control loops run
            broker = f"{settings.mqtt.host}:{settings.mqtt.port}"
            watchdog = Watchdog(
                Liveness(control_loops(subsystems, board)),
                lambda: daemon_status(edge, subsystems, session, broker),
                interval_s=watchdog_interval_s(),
            )
            control.append(tg.create_task(watchdog.run(edge.connected), name="watchdog"))
            tg.create_task(
                _stop_on_signal(stopping, control, subsystems, outbox, main), name="shutdown"
            )
            log.info("running", subsystems=sorted(subsystems))
    except asyncio.CancelledError:
        log.info("stopping")
        raise
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await buses.close_all()
        try:
            async with asyncio.timeout(5.0):
                await writer.flush()
                await store.close()
        except (StoreError, TimeoutError) as exc:
            log.error("store_close_failed", error=str(exc))
        log.info("stopped")
