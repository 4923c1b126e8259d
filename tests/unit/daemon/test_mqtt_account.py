"""`[mqtt]` account and TLS: password_file read once at start, TLS files checked, clear errors
(and `calibd run` stops on them before touching anything)."""

from __future__ import annotations

from pathlib import Path

import pytest

from calibd.__main__ import main
from calibd.cfg_mqtt import SecretFileError, client_tls_context, read_secret
from calibd.config import ConfigError, load_config
from tests.tls_ca import make_ca

ROOT = Path(__file__).resolve().parents[3]
SIM = ROOT / "config" / "sim.toml"
MQTT = '[mqtt]\nhost = "127.0.0.1"\n'


def config(tmp_path: Path, mqtt: str = "", extra: str = "") -> Path:
    text = SIM.read_text()
    assert MQTT in text
    path = tmp_path / "c.toml"
    path.write_text(text.replace(MQTT, MQTT + mqtt) + extra)
    return path


def test_password_file_is_read_into_the_password(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret\nignored\n")
    cfg = load_config(config(tmp_path, f'username = "calibd"\npassword_file = "{secret}"\n'))
    assert cfg.mqtt.password is None and cfg.mqtt.password_file == secret
    ready = cfg.mqtt.with_secrets()
    assert ready.password is not None and ready.password.get_secret_value() == "s3cret"
    assert ready.password_file is None and "s3cret" not in repr(ready)


def test_env_password_still_works(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALIBD_MQTT__PASSWORD", "from-env")
    cfg = load_config(config(tmp_path)).mqtt.with_secrets()
    assert cfg.password is not None and cfg.password.get_secret_value() == "from-env"


@pytest.mark.parametrize(
    ("mqtt", "extra", "message"),
    [
        ('password = "a"\npassword_file = "/x"\n', "", "not both"),
        ("", '\n[mqtt.tls]\ncert_file = "/c.pem"\n', "go together"),
        ("", '\n[mqtt.sim]\nusername = "calib sim"\n', "mqtt.sim.username"),
        ("", "\n[mqtt.tls]\nverify = false\n", "mqtt.tls.verify"),
    ],
)
def test_bad_accounts_are_config_errors(
    tmp_path: Path, mqtt: str, extra: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(config(tmp_path, mqtt, extra))


def test_unusable_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(SecretFileError, match=r"cannot read .*nope: No such file"):
        read_secret(tmp_path / "nope")
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(SecretFileError, match="is empty"):
        read_secret(tmp_path / "empty")
    (tmp_path / "junk.pem").write_text("not a certificate\n")
    with pytest.raises(SecretFileError, match=r"CA file .*junk\.pem"):
        client_tls_context(tmp_path / "junk.pem")
    ca = make_ca(tmp_path / "ca")
    ctx = client_tls_context(ca.ca_cert)
    assert ctx.check_hostname and ctx.minimum_version.name == "TLSv1_2"
    with pytest.raises(SecretFileError, match="client certificate"):
        client_tls_context(ca.ca_cert, tmp_path / "junk.pem", tmp_path / "junk.pem")


def test_run_stops_on_a_missing_password_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = config(tmp_path, f'username = "calibd"\npassword_file = "{tmp_path / "none"}"\n')
    with pytest.raises(SystemExit) as end:
        main(["run", "--config", str(path)])
    assert end.value.code == 78  # EX_CONFIG: systemd does not restart it
    err = capsys.readouterr().err
    assert "config error: mqtt: cannot read" in err and "none" in err
