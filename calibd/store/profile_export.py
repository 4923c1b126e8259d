"""Temperature profiles read out of the store for `calibd log export --what profiles`, as JSON
(one object per profile with its samples) or CSV (one row per sample). Read-only, like the
deployment log's export (calibd/store/export.py), also while the daemon runs."""

from __future__ import annotations

import csv
import io
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from calibd.core.timefmt import iso
from calibd.store.export import ExportError, open_export

Profile = dict[str, Any]

_COLUMNS = (
    "id, system, unit, sensor, operator, command_id, session, started, ended, outcome, message,"
    " z_from_m, z_to_m, speed_m_s, sample_period_s, n_samples, gradient_c_m, intercept_c, mean_c"
)
_FIT = ("gradient_c_m", "intercept_c", "mean_c")
CSV_COLUMNS = (
    "profile",
    "system",
    "unit",
    "sensor",
    "started",
    "ended",
    "outcome",
    "speed_m_s",
    "gradient_c_m",
    "n",
    "ts",
    "z_m",
    "temperature_c",
)


def fetch_profiles(conn: sqlite3.Connection, since: str | None = None) -> list[Profile]:
    """Profiles started, ended or still open at/after `since` (every one if None), oldest
    first, each with `fit` and its `samples` in order."""
    where = ""
    params: tuple[str, ...] = ()
    if since is not None:
        where = "WHERE started >= ? OR ended IS NULL OR ended >= ?"
        params = (since, since)
    names = [c.strip() for c in _COLUMNS.split(",")]
    out: list[Profile] = []
    rows = conn.execute(f"SELECT {_COLUMNS} FROM profiles {where} ORDER BY started, id", params)  # noqa: S608 - constants
    for row in rows.fetchall():
        doc = dict(zip(names, row, strict=True))
        doc["fit"] = {k: doc.pop(k) for k in _FIT}
        count = doc.pop("n_samples")
        samples = conn.execute(
            "SELECT n, ts, z_m, temperature_c FROM profile_samples WHERE profile = ? ORDER BY n",
            (doc["id"],),
        ).fetchall()
        doc["samples"] = [
            {"n": n, "ts": ts, "z_m": z, "temperature_c": t} for n, ts, z, t in samples
        ]
        if doc["ended"] is not None and count != len(samples):
            doc["missing_samples"] = count - len(samples)
        out.append(doc)
    return out


def read_profiles(db_path: Path, since: datetime | None) -> list[Profile]:
    """The profiles in the store at `db_path`; ExportError naming the file and why not."""
    conn = open_export(db_path, "profile_samples", "temperature profiles")
    try:
        return fetch_profiles(conn, None if since is None else iso(since))
    except sqlite3.Error as exc:
        raise ExportError(f"{db_path}: cannot read the profiles: {exc}") from exc
    finally:
        conn.close()


def to_csv(profiles: Sequence[Profile]) -> str:
    """One row per sample (a profile without samples: one row, sample columns empty)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for p in profiles:
        head = [
            p["id"],
            p["system"],
            p["unit"],
            p["sensor"],
            p["started"],
            p["ended"],
            p["outcome"],
            p["speed_m_s"],
            p["fit"]["gradient_c_m"],
        ]
        head = ["" if v is None else v for v in head]
        if not p["samples"]:
            writer.writerow([*head, "", "", "", ""])
        for s in p["samples"]:
            writer.writerow([*head, s["n"], s["ts"], s["z_m"], s["temperature_c"]])
    return out.getvalue()
