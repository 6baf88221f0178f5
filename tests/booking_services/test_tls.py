"""booking_runtime/tls.py alone: which combinations of TRIP_TLS_* a process accepts, and that none
means plaintext (the default stack's path is unchanged)."""

from __future__ import annotations

import pytest

from booking_runtime.tls import TlsConfigError, TlsSettings


def test_no_variables_mean_plaintext_both_ways() -> None:
    settings = TlsSettings.from_env({})
    assert not settings.server_enabled and not settings.client_enabled


def test_a_certificate_makes_a_tls_server_and_a_ca_a_tls_client() -> None:
    server = TlsSettings.from_env({"TRIP_TLS_CERT": "c.pem", "TRIP_TLS_KEY": "c.key"})
    assert server.server_enabled and not server.client_enabled
    client = TlsSettings.from_env({"TRIP_TLS_CA": "ca.pem"})
    assert client.client_enabled and not client.server_enabled


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TRIP_TLS_CERT": "c.pem"}, "go together"),
        ({"TRIP_TLS_KEY": "c.key"}, "go together"),
        ({"TRIP_TLS_CERT": "c", "TRIP_TLS_KEY": "k", "TRIP_TLS_CLIENT_AUTH": "require"}, "needs"),
        ({"TRIP_TLS_CLIENT_AUTH": "optional"}, "require"),
    ],
)
def test_settings_that_do_not_fit_together_stop_the_process(env: dict[str, str], message: str) -> None:
    with pytest.raises(TlsConfigError, match=message):
        TlsSettings.from_env(env)


def test_an_unreadable_file_is_named() -> None:
    with pytest.raises(TlsConfigError, match=r"/nonexistent/ca\.pem"):
        TlsSettings(ca="/nonexistent/ca.pem").channel_credentials()
