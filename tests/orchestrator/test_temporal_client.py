"""How the worker and the API connect to Temporal: temporalio.envconfig's standard names and profiles,
the flags over them, and the old names as deprecated aliases (no server needed)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from temporalio.service import TLSConfig

from orchestrator.config import Settings, parse_settings
from orchestrator.temporal_client import connect_config


def settings(*argv: str) -> Settings:
    return parse_settings("x", "y", list(argv))


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No TEMPORAL_* from the machine, and no profile file from the user's home."""
    import os

    for name in list(os.environ):
        if name.startswith("TEMPORAL_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TEMPORAL_CONFIG_FILE", str(tmp_path / "absent.toml"))


def pem_files(tmp_path: Path) -> tuple[Path, Path, Path]:
    cert, key, ca = (tmp_path / name for name in ("client.pem", "client.key", "ca.pem"))
    for path in (cert, key, ca):
        path.write_bytes(f"-----{path.name}-----".encode())
    return cert, key, ca


def test_a_local_dev_server_needs_no_tls() -> None:
    config = connect_config(settings(), {})
    assert config == {"target_host": "localhost:7233", "namespace": "default"}


def test_an_api_key_or_the_tls_switch_means_tls_with_system_roots() -> None:
    assert connect_config(settings(), {"TEMPORAL_API_KEY": "secret"})["tls"]
    assert connect_config(settings(), {"TEMPORAL_TLS": "on"})["tls"]
    assert connect_config(settings("--temporal-api-key", "k"), {})["api_key"] == "k"
    # "off" is this suite's old spelling; envconfig itself would read it as "TLS configured".
    assert connect_config(settings(), {"TEMPORAL_TLS": "off"}).get("tls") is False


def test_the_standard_names_read_the_pem_files(tmp_path: Path) -> None:
    cert, key, ca = pem_files(tmp_path)
    env = {
        "TEMPORAL_ADDRESS": "temporal.example:7233",
        "TEMPORAL_NAMESPACE": "trips",
        "TEMPORAL_TLS_CLIENT_CERT_PATH": str(cert),
        "TEMPORAL_TLS_CLIENT_KEY_PATH": str(key),
        "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(ca),
    }
    config = connect_config(settings(), env)
    assert config["target_host"] == "temporal.example:7233" and config["namespace"] == "trips"
    tls = config["tls"]
    assert isinstance(tls, TLSConfig)
    assert tls.client_cert == cert.read_bytes() and tls.client_private_key == key.read_bytes()
    assert tls.server_root_ca_cert == ca.read_bytes()


def test_a_toml_profile_is_read_and_flags_win(tmp_path: Path) -> None:
    profile = tmp_path / "temporal.toml"
    profile.write_text(
        '[profile.prod]\naddress = "prod.example:7233"\nnamespace = "prod"\napi_key = "from-file"\n'
    )
    env = {"TEMPORAL_CONFIG_FILE": str(profile), "TEMPORAL_PROFILE": "prod"}
    config = connect_config(settings(), env)
    assert (config["target_host"], config["namespace"], config["api_key"]) == (
        "prod.example:7233",
        "prod",
        "from-file",
    )
    assert connect_config(settings("--namespace", "other"), env)["namespace"] == "other"


def test_the_old_names_still_work_with_a_deprecation_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cert, key, ca = pem_files(tmp_path)
    env = {"TEMPORAL_TLS_CERT": str(cert), "TEMPORAL_TLS_KEY": str(key), "TEMPORAL_TLS_CA": str(ca)}
    with caplog.at_level(logging.WARNING, logger="orchestrator.temporal"):
        tls = connect_config(settings(), env)["tls"]
    assert isinstance(tls, TLSConfig) and tls.client_cert == cert.read_bytes()
    assert tls.server_root_ca_cert == ca.read_bytes()
    logged = [
        (record.__dict__.get("setting"), record.__dict__.get("use"))
        for record in caplog.records
        if getattr(record, "event", None) == "deprecated_setting"
    ]
    assert ("TEMPORAL_TLS_CERT", "TEMPORAL_TLS_CLIENT_CERT_PATH") in logged
    assert ("TEMPORAL_TLS_CA", "TEMPORAL_TLS_SERVER_CA_CERT_PATH") in logged


def test_a_certificate_without_its_key_is_refused(tmp_path: Path) -> None:
    cert, _, _ = pem_files(tmp_path)
    with pytest.raises(ValueError, match="go together"):
        connect_config(settings(), {"TEMPORAL_TLS_CLIENT_CERT_PATH": str(cert)})


def test_a_bad_environment_value_is_a_usage_error_and_help_still_works(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TRIP_STEP_BUDGET_SECONDS", "ten")
    with pytest.raises(SystemExit) as shown:
        parse_settings("x", "y", ["--help"])
    assert shown.value.code == 0 and "TRIP_STEP_BUDGET_SECONDS" in capsys.readouterr().out
    with pytest.raises(SystemExit) as refused:
        parse_settings("x", "y", [])
    assert refused.value.code == 2 and "--step-budget-seconds" in capsys.readouterr().err
    # A flag given on the command line wins over the bad environment value.
    assert parse_settings("x", "y", ["--step-budget-seconds", "5"]).step_budget_seconds == 5.0
