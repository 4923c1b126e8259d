"""`calibctl log export`: the deployment log out of the state directory, as `calibd log export`
does (the same reader, calibd/store/export.py; read-only, also while the daemon runs)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from calibd.ctl.errors import FAILED, OK, USAGE, CtlError

DEFAULT_STATE_DIR = Path("/var/lib/calibd")


def state_dir(explicit: str | None, config: str | None) -> Path:
    """--state-dir, else `[state] dir` of --config, else CALIBD_STATE__DIR, else the default."""
    if explicit:
        return Path(explicit)
    if config:
        from calibd.config import ConfigError, load_config

        try:
            return load_config(config).state.dir
        except ConfigError as exc:
            raise CtlError("\n".join(exc.errors), USAGE) from None
    return Path(os.environ.get("CALIBD_STATE__DIR") or DEFAULT_STATE_DIR)


def export(
    directory: Path,
    *,
    since: str | None,
    fmt: str,
    output: str | None,
    what: str = "deployments",
) -> int:
    """`what`: "deployments" (the deployment log) or "profiles" (temperature profiles)."""
    from calibd.core.timefmt import parse_iso
    from calibd.store.db import FILENAME
    from calibd.store.export import ExportError, read_records, to_csv, to_json

    when = None
    if since is not None:
        try:
            when = parse_iso(since)
        except ValueError:
            raise CtlError(
                f"--since {since!r} is not an ISO 8601 time (e.g. 2026-11-21T12:00:00Z)", USAGE
            ) from None
    try:
        if what == "profiles":
            from calibd.store import profile_export

            profiles = profile_export.read_profiles(directory / FILENAME, when)
            text = to_json(profiles) if fmt == "json" else profile_export.to_csv(profiles)
        else:
            records = read_records(directory / FILENAME, when)
            text = to_json(records) if fmt == "json" else to_csv(records)
    except ExportError as exc:
        raise CtlError(str(exc), FAILED) from None
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return OK
    try:
        Path(output).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CtlError(f"{output}: cannot write: {exc.strerror or exc}", FAILED) from None
    return OK
