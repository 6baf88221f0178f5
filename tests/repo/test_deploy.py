"""deploy/: the Prometheus scrape config and alert rules, and the Grafana dashboard.

promtool (Debian's `prometheus` package; `make tools` installs it as root, and `make test` runs that)
checks the config and runs the rules' unit tests, which show each alert firing on the series it is
meant for. Without promtool that test is skipped, except in CI (CI=true), where it fails. Whatever
the tools, every metric the rules and the dashboard query must be one the suite exports.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest

from booking_runtime.grpc_metrics import HANDLED, HANDLING_SECONDS
from orchestrator.trip_metrics import COMPENSATIONS, STATUS_TRANSITIONS, STEP_ATTEMPTS
from tests.support.processes import ROOT

PROMETHEUS = ROOT / "deploy" / "prometheus"
DASHBOARD = ROOT / "deploy" / "grafana" / "trip-booking.json"
JOBS = {"trip-api", "trip-worker", "flight-svc", "hotel-svc", "cab-svc"}
EXPORTED = {
    STATUS_TRANSITIONS,
    COMPENSATIONS,
    STEP_ATTEMPTS,
    HANDLED,
    f"{HANDLING_SECONDS}_bucket",
    "up",  # Prometheus's own, per scrape target
    "process_cpu_seconds_total",  # prometheus-client's process collector (booking services)
}
METRIC = re.compile(r"\b(trip_\w+|grpc_server_\w+|process_\w+|up)\b(?=\s*[{\[(]|\s*==)")


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool is missing in CI: `make tools` (run by `make test`) installs it")
        pytest.skip("promtool not installed (as root: make tools)")
    return found


def test_scrape_config_and_alert_rules_pass_promtool() -> None:
    tool = promtool()
    for args in (["check", "config", "prometheus.yml"], ["test", "rules", "alerts_test.yml"]):
        result = subprocess.run([tool, *args], cwd=PROMETHEUS, capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stdout + result.stderr


def dashboard_expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def test_rules_and_dashboard_query_only_exported_metrics() -> None:
    rules = (PROMETHEUS / "alerts.yml").read_text()
    expressions = [rules, *dashboard_expressions()]
    used = {name for text in expressions for name in METRIC.findall(text)}
    assert used - EXPORTED == set()
    assert {STATUS_TRANSITIONS, COMPENSATIONS, STEP_ATTEMPTS, HANDLED} <= used


def test_the_scrape_config_has_one_job_per_process() -> None:
    config = (PROMETHEUS / "prometheus.yml").read_text()
    assert set(re.findall(r"job_name: ([\w-]+)", config)) == JOBS
    assert {"TripCompensationStuck", "TripRetryStorm", "TripSoldOutRateHigh", "TripServiceDown"} <= set(
        re.findall(r"alert: (\w+)", (PROMETHEUS / "alerts.yml").read_text())
    )
