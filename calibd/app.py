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
from calibd.core.dispatcher import Dispatcher
from calibd.core.outbox import Outbox
from calibd.core.timefmt import iso
from calibd.interlocks import InterlockBoard
from calibd.mqtt import MqttEdge
from calibd.state import next_session
from calibd.store.db import Store, StoreError
from calibd.store.ledger import CommandLedger
from calibd.store.writer import Writer
from calibd.subsystems.house import House
from calibd.systemd import sd_notify, watchdog_interval_s

log = structlog.get_logger("calibd.app")


async def _watchdog(edge: MqttEdge) -> None:
    interval_s = watchdog_interval_s()
    if interval_s is None:
        return
    while True:
        sd_notify("WATCHDOG=1", f"STATUS=mqtt {'up' if edge.connected.is_set() else 'down'}")
        await asyncio.sleep(interval_s)


async def run_daemon(settings: Settings) -> None:
    """Run until SIGINT/SIGTERM (or cancellation); drives are stopped on the way out."""
    session = await asyncio.to_thread(next_session, settings.state.dir)
    started_at = iso(datetime.now(UTC))
    store = Store.in_dir(settings.state.dir)
    await store.open()  # StoreError: refuse to start (nothing has been touched yet)
    writer = Writer(store)
    ledger = CommandLedger(writer)
    outbox = Outbox(settings.mqtt.outbound_queue)
    outbox.taps.append(ledger.tap)
    buses = Buses()
    subsystems = build(settings, buses, outbox)
    house = subsystems["house"]
    assert isinstance(house, House)
    board = InterlockBoard(subsystems, house, outbox, settings.interlocks)
    dispatcher = Dispatcher(
        subsystems, outbox, board, seen=await ledger.recent_ids(), on_new_id=ledger.add_id
    )
    birth: dict[str, Any] = {"version": __version__, "session": session, "started_at": started_at}
    watch: dict[str, Callable[[bytes], None]] = {}
    permit = settings.interlocks.run_permit
    if permit.required_for:
        watch[permit.topic_under(settings.mqtt.topic_root)] = board.set_permit
    edge = MqttEdge(settings.mqtt, outbox, dispatcher.handle, birth=birth, watch=watch)
    structlog.contextvars.bind_contextvars(session=session)
    log.info("starting", version=__version__, session=session, time_scale=settings.sim.time_scale)

    main = asyncio.current_task()
    loop = asyncio.get_running_loop()
    assert main is not None

    def on_signal() -> None:
        sd_notify("STOPPING=1")
        main.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    try:
        await buses.connect_all()
        async with asyncio.TaskGroup() as tg:
            for name, sub in subsystems.items():
                tg.create_task(sub.run(), name=f"subsystem:{name}")
            tg.create_task(board.run(), name="interlocks")
            tg.create_task(writer.run(), name="store-writer")
            tg.create_task(edge.run(), name="mqtt")
            tg.create_task(_watchdog(edge), name="watchdog")
            sd_notify("READY=1", f"STATUS=session {session}")
            log.info("ready", subsystems=sorted(subsystems))
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
