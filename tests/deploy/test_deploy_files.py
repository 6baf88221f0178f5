"""The Dockerfile, deploy/compose.yaml and deploy/k8s/ against DESIGN.md and the settings the code reads.

Nothing container-based runs here, so these files are checked as text: every command one of the
image's processes, every port the DESIGN.md default, every variable one the code (or DESIGN.md)
names, every client address pointing at a server that listens there, and a probe on each process.
`docker-compose config` validates the compose file where Debian's docker-compose is installed
(`make deploy-check-tools`); the wheel the Dockerfile installs is built and its data files checked.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from booking_runtime.config import build_parser
from booking_runtime.probe import HTTP_SERVERS, SERVERS
from orchestrator.channels import channel_target
from orchestrator.config import _OPTIONS
from tests.support.processes import ROOT

DEPLOY = ROOT / "deploy"
# The contract sits in shared/ beside the checkout (CI's clone and the main work tree alike).
DESIGN = next(
    (p / "shared" / "DESIGN.md" for p in (ROOT.parent, ROOT.parent.parent) if (p / "shared").is_dir()),
    ROOT.parent / "shared" / "DESIGN.md",
)
IMAGE = "tripbooking"
MODULES = {"flight_svc", "hotel_svc", "cab_svc", "orchestrator.worker", "orchestrator.server"}
LATER_MODULES = {"orchestrator.codec_server"}  # off by default (TRIP_CODEC_KEYS): behind a compose profile
# The listen variable and DESIGN.md port of each server command.
LISTEN = {
    "flight_svc": ("FLIGHT_SVC_ADDR", 50051),
    "hotel_svc": ("HOTEL_SVC_ADDR", 50052),
    "cab_svc": ("CAB_SVC_ADDR", 50053),
    "orchestrator.server": ("ORCHESTRATOR_ADDR", 50050),
    "orchestrator.codec_server": ("TRIP_CODEC_ADDR", 8081),
}


class Recording(dict[str, str]):
    """An environment that notes every variable asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.asked.add(key)
        return default


def variables_the_code_reads() -> set[str]:
    env = Recording()
    for service in ("flight", "hotel", "cab"):
        build_parser(service, env)
    return env.asked | {variable for _, variable, *_ in _OPTIONS}


def design_text() -> str:
    if not DESIGN.exists():
        pytest.skip(f"{DESIGN} is not next to this checkout")
    return DESIGN.read_text()


def known_variables() -> set[str]:
    """What the code reads, and what DESIGN.md names (variables of features other branches build)."""
    named = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", design_text()))
    return variables_the_code_reads() | {n for n in named if "_" in n}


def module_of(command: list[str]) -> str:
    assert command[:2] == ["python", "-m"], command
    return command[2]


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def our_compose_services() -> Iterator[tuple[str, dict[str, Any]]]:
    for name, service in compose()["services"].items():
        if service.get("image", "").startswith(IMAGE):
            yield name, service


def k8s_documents() -> Iterator[dict[str, Any]]:
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        yield from (doc for doc in yaml.safe_load_all(path.read_text()) if doc)


def k8s_containers() -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for doc in k8s_documents():
        if doc["kind"] == "Deployment":
            for container in doc["spec"]["template"]["spec"]["containers"]:
                yield doc, container


def k8s_config() -> dict[str, str]:
    return next(d["data"] for d in k8s_documents() if d["kind"] == "ConfigMap")


def dockerfile_env() -> dict[str, str]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    found: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            found.update(re.findall(r"([A-Z_][A-Z0-9_]*)=(\S+)", line))
    return found


def port_of(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


def test_design_defaults_are_the_ports_used_everywhere() -> None:
    text = design_text()
    for module, (_, port) in LISTEN.items():
        if module in MODULES:
            assert re.search(rf"`python -m {re.escape(module)}` \| `localhost:{port}`", text), module
    exposed = {
        int(p) for p in re.findall(r"^EXPOSE (.*)$", (ROOT / "Dockerfile").read_text(), re.M)[0].split()
    }
    assert exposed == {port for _, port in LISTEN.values()}
    env = dockerfile_env()
    for variable, port in LISTEN.values():
        assert env[variable] == f"0.0.0.0:{port}", variable
    for module, (variable, default) in {**SERVERS, **HTTP_SERVERS}.items():  # the probe's defaults
        assert (variable, port_of(default)) == LISTEN[module]


def test_the_image_is_non_root_with_one_probe_for_every_command() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^USER 10001$", text, re.M)
    assert '"booking_runtime.probe"' in text.split("HEALTHCHECK", 1)[1].split("\n\n", 1)[0]
    assert "-c requirements.lock" in text
    for package in ("generated", "booking_runtime", "flight_svc", "hotel_svc", "cab_svc", "orchestrator"):
        assert f"COPY {package}/ {package}/" in text


def test_compose_runs_the_images_commands_on_their_ports() -> None:
    known = known_variables()
    services = dict(our_compose_services())
    assert {module_of(s["command"]) for s in services.values()} == MODULES | LATER_MODULES
    for name, service in services.items():
        module = module_of(service["command"])
        env: Mapping[str, str] = service.get("environment", {})
        assert set(env) <= known, (name, set(env) - known)
        if module in LATER_MODULES:
            assert service.get("profiles"), f"{name} is an opt-in feature: keep it profile-gated"
        if module in LISTEN:
            variable, port = LISTEN[module]
            assert env[variable] == f"0.0.0.0:{port}", name
    assert services["worker"]["deploy"]["replicas"] == 2
    for name in ("flight", "hotel", "cab"):
        assert services[name]["deploy"]["replicas"] == 2
        assert services[name]["environment"][f"{name.upper()}_DB"].startswith("postgresql://")
    assert "50050:50050" in services["api"]["ports"]


def test_compose_clients_point_at_servers_that_listen_there() -> None:
    services = compose()["services"]
    for client in ("worker", "api"):
        env = services[client]["environment"]
        for name in ("flight", "hotel", "cab"):
            target = env[f"{name.upper()}_SVC_ADDR"]
            assert target == f"dns:///{name}:{LISTEN[f'{name}_svc'][1]}", target
            channel_target(target)  # a target the worker's channel takes
        assert env["TEMPORAL_ADDRESS"] == "temporal:7233"
    postgres = services["postgresql"]
    assert "45001:5432" in postgres["ports"]
    init = (DEPLOY / "postgres" / "init.sql").read_text()
    assert "CREATE DATABASE tripbooking" in init
    setup = (DEPLOY / "temporal" / "setup-postgres.sh").read_text()
    assert "for db in temporal temporal_visibility" in setup and "temporal-sql-tool" in setup


def test_k8s_deployments_run_the_images_commands_with_probes_and_resources() -> None:
    known = known_variables()
    config = k8s_config()
    assert set(config) <= known, set(config) - known
    services = {d["metadata"]["name"]: d for d in k8s_documents() if d["kind"] == "Service"}
    seen = set()
    for deployment, container in k8s_containers():
        module = module_of(container["command"])
        seen.add(module)
        assert container["image"] == IMAGE
        assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
        env = {e["name"]: e.get("value") for e in container.get("env", [])}
        assert set(env) <= known, set(env) - known
        resources = container["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"]) and "memory" in resources["limits"]
        assert container["readinessProbe"] and container["livenessProbe"]
        if module == "orchestrator.worker":
            assert container["livenessProbe"]["exec"]["command"] == [
                "python",
                "-m",
                "orchestrator.worker_probe",
            ]
            continue
        variable, port = LISTEN[module]
        assert env[variable] == f"0.0.0.0:{port}"
        assert [p["containerPort"] for p in container["ports"]] == [port]
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            assert container[probe]["grpc"]["port"] == port
        if module != "orchestrator.server":
            # The worker's address for this service: a headless Service on the same port.
            target = config[variable]
            host, service_port = target.removeprefix("dns:///").rsplit(":", 1)
            assert services[host]["spec"]["clusterIP"] == "None"
            assert services[host]["spec"]["ports"][0]["port"] == port == int(service_port)
            channel_target(target)
    assert seen == MODULES


def test_compose_file_is_valid_for_docker_compose() -> None:
    tool = shutil.which("docker-compose")
    if tool is None:
        pytest.skip("docker-compose is not installed (make deploy-check-tools installs Debian's)")
    for profile in ([], ["--profile", "codec"]):
        done = subprocess.run(
            [tool, "-f", str(DEPLOY / "compose.yaml"), *profile, "config", "--quiet"],
            capture_output=True, text=True, timeout=60, cwd=ROOT,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr


def test_the_wheel_the_image_installs_carries_migrations_and_catalogs(tmp_path: Path) -> None:
    source = tmp_path / "src"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(".git", ".venv", "var", "build", "*.egg-info", "*_cache", "tests"),
    )
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    subprocess.run([*pip, str(source), "-w", str(tmp_path)], check=True, capture_output=True, timeout=300)
    wheel = next(tmp_path.glob("tripbooking-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for service in ("flight", "hotel", "cab"):
        assert f"{service}_svc/catalog.json" in names
        assert f"{service}_svc/migrations/v0001_baseline.py" in names
    assert {"booking_runtime/migrations/env.py", "booking_runtime/migrations/script.py.mako"} <= names
    assert "tripbooking/flight/v1/flight_pb2.py" in names
