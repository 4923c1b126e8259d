"""calibsim's broker account (`[mqtt.sim]`, never the daemon's) and TLS (`[mqtt.tls]`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulators.config import ConfigError, MqttCfg
from simulators.mqtt_link import MqttLink, login, tls_context
from tests.tls_ca import make_ca


def test_anonymous_without_a_sim_account() -> None:
    cfg = MqttCfg.model_validate({"username": "calibd", "password": "daemon-secret"})
    assert login(cfg) == (None, None)
    assert tls_context(cfg) is None


def test_sim_account_from_its_password_file(tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text("sim-secret\n")
    cfg = MqttCfg.model_validate(
        {"sim": {"username": "calibsim", "password_file": str(pw)}, "tls": {}}
    )
    assert login(cfg) == ("calibsim", "sim-secret")
    ctx = tls_context(cfg)
    assert ctx is not None and ctx.check_hostname
    cfg = MqttCfg.model_validate({"sim": {"username": "calibsim", "password": "p"}})
    assert login(cfg) == ("calibsim", "p")
    assert "'p'" not in repr(cfg)


async def test_unusable_files_stop_the_link(tmp_path: Path) -> None:
    missing = MqttCfg.model_validate(
        {"sim": {"username": "calibsim", "password_file": str(tmp_path / "none")}}
    )
    with pytest.raises(ConfigError, match=r"mqtt\.sim\.password_file: cannot read"):
        MqttLink(missing, lambda *_: None)
    (tmp_path / "bad.pem").write_text("junk\n")
    bad_ca = MqttCfg.model_validate({"tls": {"ca_file": str(tmp_path / "bad.pem")}})
    with pytest.raises(ConfigError, match=r"mqtt\.tls"):
        MqttLink(bad_ca, lambda *_: None)
    ok = MqttCfg.model_validate({"tls": {"ca_file": str(make_ca(tmp_path / "ca").ca_cert)}})
    assert MqttLink(ok, lambda *_: None).username is None
