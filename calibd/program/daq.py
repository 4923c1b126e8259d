"""The DAQ run at a program point: a handshake over MQTT, or a plain dwell when no DAQ is attached.

handshake: `{root}/daq/request` {"id", "run", "program", "step", "point", "system", "source",
"kind", "position", "daq_s", "ts"}; the DAQ answers on `{root}/daq/done` {"id", "ok": true|false,
"message"} once it has taken its data. No answer within the point's DAQ time plus
`program.daq_timeout_s` (both scaled by time_scale) fails the point (`daq_timeout`).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import structlog

from calibd.cfg_program import ProgramCfg
from calibd.core.outbox import Outbox, Outgoing
from calibd.core.timefmt import iso_now

log = structlog.get_logger("calibd.program.daq", subsystem="program")
REQUEST_TOPIC = "daq/request"
DONE_TOPIC = "daq/done"


class DaqError(Exception):
    """The DAQ did not take the point (timeout, or it said so)."""


@dataclass(frozen=True)
class DaqWindow:
    request: str
    mode: str
    start: str
    end: str


class Daq:
    def __init__(self, cfg: ProgramCfg, outbox: Outbox, time_scale: float = 1.0) -> None:
        self.cfg = cfg
        self.outbox = outbox
        self.time_scale = time_scale
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}

    def on_done(self, payload: bytes) -> None:
        """`{root}/daq/done` arrived (called by the MQTT edge); never raises."""
        try:
            doc = json.loads(payload)
            future = self._pending.get(str(doc["id"]))
        except (ValueError, KeyError, TypeError):
            log.warning("daq_done_unreadable", payload=payload[:200].decode(errors="replace"))
            return
        if future is None:
            log.warning("daq_done_unknown", id=doc.get("id"))
        elif not future.done():
            future.set_result(doc)

    async def take(self, request: dict[str, Any], daq_s: float) -> DaqWindow:
        start = iso_now()
        if self.cfg.daq == "dwell":
            await asyncio.sleep(daq_s / self.time_scale)
            return DaqWindow(str(request["id"]), "dwell", start, iso_now())
        request_id = str(request["id"])
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            self.outbox.put(
                Outgoing("message", None, {**request, "ts": start}, topic=REQUEST_TOPIC)
            )
            wait_s = (daq_s + self.cfg.daq_timeout_s) / self.time_scale
            try:
                async with asyncio.timeout(wait_s):
                    done = await future
            except TimeoutError:
                raise DaqError(
                    f"daq_timeout: no {DONE_TOPIC} for request {request_id} within {wait_s:.1f} s"
                ) from None
        finally:
            self._pending.pop(request_id, None)
        if done.get("ok") is False:
            raise DaqError(f"daq_failed: {done.get('message') or 'the DAQ reported a failure'}")
        return DaqWindow(request_id, "handshake", start, iso_now())
