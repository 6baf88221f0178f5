"""Where each part of the stack listens: `make up`'s defaults (moved by the *_ADDR variables) or
fresh free ports, so a test or benchmark never collides with a running `make up`."""

from __future__ import annotations

import os
from dataclasses import dataclass

from scripts.stack_health import free_port
from scripts.stack_scale import PORT_STEP


@dataclass
class StackPorts:
    """Where each part listens; the defaults are the ones the README lists (`make up`)."""

    temporal: int = 7233
    ui: int | None = 8233
    api: int = 50050
    flight: int = 50051
    hotel: int = 50052
    cab: int = 50053
    step: int | None = PORT_STEP  # further replicas: this many ports apart; None: free ports

    @classmethod
    def free(cls, ui: bool = False) -> StackPorts:
        """Fresh ports, so a test or benchmark never collides with `make up`."""
        return cls(
            free_port(), free_port() if ui else None, free_port(), free_port(), free_port(), free_port(), None
        )


def port_of(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


# Where `make up` and its clients read each part's address from.
ADDRESS_VARIABLES = {
    "api": "ORCHESTRATOR_ADDR",
    "flight": "FLIGHT_SVC_ADDR",
    "hotel": "HOTEL_SVC_ADDR",
    "cab": "CAB_SVC_ADDR",
    "temporal": "TEMPORAL_ADDRESS",
}


def running_addresses() -> dict[str, str]:
    """Where the stack `make up` runs listens: the *_ADDR variables, else the default ports (StackPorts)."""
    defaults = StackPorts()
    return {
        name: os.environ.get(variable) or f"localhost:{getattr(defaults, name)}"
        for name, variable in ADDRESS_VARIABLES.items()
    }


def ports_from_env() -> StackPorts:
    """The default ports (StackPorts), moved by the usual *_ADDR variables if they are set."""
    return StackPorts(**{name: port_of(address) for name, address in running_addresses().items()})
