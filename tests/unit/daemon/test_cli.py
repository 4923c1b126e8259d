"""`calibd check-config`: the file positional or `--config FILE`, like run, demo and log export."""

from __future__ import annotations

from pathlib import Path

import pytest

from calibd.__main__ import main

ROOT = Path(__file__).resolve().parents[3]
SIM = ROOT / "config" / "sim.toml"


def _exit_code(argv: list[str]) -> int | str | None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    return exc.value.code


@pytest.mark.parametrize(
    "argv",
    [
        ["check-config", str(SIM)],
        ["check-config", "--config", str(SIM)],
        ["check-config", f"--config={SIM}"],
        ["check-config", "--config", str(SIM), str(SIM)],
    ],
    ids=["positional", "option", "option-equals", "both-same"],
)
def test_check_config_takes_the_file_either_way(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert _exit_code(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{SIM}: OK (")
    assert "systems house, acu" in out


@pytest.mark.parametrize("form", ["positional", "option"])
def test_check_config_reports_errors_either_way(
    form: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(SIM.read_text().replace("port = 1883", "port = 0", 1))
    argv = (
        ["check-config", str(bad)]
        if form == "positional"
        else ["check-config", "--config", str(bad)]
    )
    assert _exit_code(argv) == 1
    assert "config error: mqtt.port" in capsys.readouterr().err


def test_check_config_without_a_file_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit_code(["check-config"]) == 2
    assert "FILE or --config FILE" in capsys.readouterr().err


def test_check_config_refuses_two_different_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other.toml"
    other.write_text(SIM.read_text())
    assert _exit_code(["check-config", "--config", str(SIM), str(other)]) == 2
    assert "two files given" in capsys.readouterr().err
