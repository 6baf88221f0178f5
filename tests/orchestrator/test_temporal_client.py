"""How the worker and the API authenticate to Temporal, from their settings (no server needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.service import TLSConfig

from orchestrator.config import parse_settings
from orchestrator.temporal_client import TemporalSecurity


def test_a_local_dev_server_needs_no_tls() -> None:
    assert TemporalSecurity().tls_config() is False


def test_an_api_key_or_the_tls_switch_means_tls_with_system_roots() -> None:
    assert TemporalSecurity(api_key="secret").tls_config() is True
    assert TemporalSecurity(tls=True).tls_config() is True


def test_mutual_tls_reads_the_pem_files(tmp_path: Path) -> None:
    cert, key, ca = (tmp_path / name for name in ("client.pem", "client.key", "ca.pem"))
    for path in (cert, key, ca):
        path.write_bytes(f"-----{path.name}-----".encode())
    config = TemporalSecurity(client_cert=str(cert), client_key=str(key), server_ca=str(ca)).tls_config()
    assert isinstance(config, TLSConfig)
    assert config.client_cert == cert.read_bytes() and config.client_private_key == key.read_bytes()
    assert config.server_root_ca_cert == ca.read_bytes()


def test_a_certificate_without_its_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="go together"):
        TemporalSecurity(client_cert=str(tmp_path / "client.pem")).tls_config()


def test_settings_read_the_security_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEMPORAL_API_KEY", "k")
    monkeypatch.setenv("TEMPORAL_TLS", "on")
    security = parse_settings("x", "y", []).temporal_security
    assert security.api_key == "k" and security.tls


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
