"""``calibsim --config``: exit codes, ready line, clean SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from .conftest import write_config

CALIBSIM = [sys.executable, "-m", "simulators"]


def test_missing_or_invalid_config_exits_1(tmp_path: Path) -> None:
    missing = subprocess.run(
        [*CALIBSIM, "--config", str(tmp_path / "nope.toml")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert missing.returncode == 1
    assert "cannot read" in missing.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text("[acu]\nz_park_m = 'high'\n")
    invalid = subprocess.run(
        [*CALIBSIM, "--config", str(bad)], capture_output=True, text=True, timeout=30, check=False
    )
    assert invalid.returncode == 1
    assert "acu" in invalid.stderr


def test_ready_then_sigterm_exits_0(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    link = tmp_path / "dev" / "loadcells"
    log_path = tmp_path / "calibsim.log"
    with (
        log_path.open("w") as log,
        subprocess.Popen(
            [*CALIBSIM, "--config", str(config)], stdout=subprocess.PIPE, stderr=log, text=True
        ) as proc,
    ):
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "calibsim: ready", log_path.read_text()
            assert link.is_symlink()
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0, log_path.read_text()
            assert not link.exists()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=5)
