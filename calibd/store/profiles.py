"""Temperature profiles in the store: one `profiles` row per profile, one `profile_samples` row
per sample, written as they are published, through the store's `Writer`.

It is an outbox tap (like the deployment log): the `profile` event `started` inserts the
profile, each `{root}/acu/profile` chunk its samples, the event `ended` closes the profile with
its outcome and fit. At start (`close_interrupted`) a profile left open by a daemon that died
is closed `interrupted`. `calibd log export --what profiles` reads them
(calibd/store/profile_export.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog

from calibd.core.outbox import Outgoing
from calibd.core.timefmt import iso_now
from calibd.store.writer import Writer

log = structlog.get_logger("calibd.store.profiles", subsystem="store")

#: the topic (under the root) of the sample chunks, as calibd/subsystems/acu_profile.py sends
TOPIC = "acu/profile"

_INSERT = (
    "INSERT INTO profiles (id, system, unit, sensor, z_from_m, z_to_m, speed_m_s,"
    " sample_period_s, operator, command_id, session, started)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SAMPLE = "INSERT INTO profile_samples (profile, n, ts, z_m, temperature_c) VALUES (?, ?, ?, ?, ?)"
_END = (
    "UPDATE profiles SET ended = ?, outcome = ?, message = ?, n_samples = ?, gradient_c_m = ?,"
    " intercept_c = ?, mean_c = ? WHERE id = ?"
)
_INTERRUPTED = (
    "UPDATE profiles SET ended = ?, outcome = 'interrupted',"
    " message = 'the daemon stopped during the profile',"
    " n_samples = (SELECT COUNT(*) FROM profile_samples WHERE profile = profiles.id)"
    " WHERE ended IS NULL"
)


class ProfileLog:
    def __init__(self, writer: Writer, *, session: int) -> None:
        self.writer = writer
        self.session = session

    def close_interrupted(self) -> None:
        """Close every profile a previous run left open (queued before anything new)."""
        self.writer.put(_INTERRUPTED, (iso_now(),))

    def tap(self, item: Outgoing) -> None:
        """The outbox tap: cheap, never blocks, never raises."""
        try:
            doc = item.payload
            if item.kind == "message" and item.topic == TOPIC:
                self._samples(doc)
            elif item.kind == "event" and doc.get("event") == "profile":
                if doc.get("change") == "started":
                    self._started(doc)
                elif doc.get("change") == "ended":
                    self._ended(doc)
        except Exception:
            log.exception("profile_log_failed", kind=item.kind, topic=item.topic)

    def _started(self, doc: Mapping[str, Any]) -> None:
        self.writer.put(
            _INSERT,
            (
                str(doc["profile"]),
                str(doc.get("system") or "acu"),
                doc.get("unit"),
                doc.get("sensor"),
                float(doc["z_from_m"]),
                float(doc["z_to_m"]),
                float(doc["speed_m_s"]),
                doc.get("sample_period_s"),
                doc.get("operator"),
                doc.get("command"),
                self.session,
                str(doc.get("started") or doc.get("ts") or iso_now()),
            ),
        )

    def _samples(self, doc: Mapping[str, Any]) -> None:
        profile = str(doc["profile"])
        for s in doc.get("samples") or ():
            self.writer.put(
                _SAMPLE,
                (profile, int(s["n"]), str(s["ts"]), float(s["z_m"]), float(s["temperature_c"])),
            )

    def _ended(self, doc: Mapping[str, Any]) -> None:
        self.writer.put(
            _END,
            (
                str(doc.get("ts") or iso_now()),
                doc.get("outcome"),
                doc.get("message") or None,
                int(doc.get("samples") or 0),
                doc.get("gradient_c_m"),
                doc.get("intercept_c"),
                doc.get("mean_c"),
                str(doc["profile"]),
            ),
        )
