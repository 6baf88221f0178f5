"""`make chaos`'s settings: ChaosConfig, and the command line that fills it (`--help` shows the run's
documentation, scripts/chaos.py's docstring)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

from scripts.chaos_plan import FAULT_KINDS, PlanOptions
from scripts.stack_scale import Scale


@dataclass
class ChaosConfig:
    trips: int = 300
    seed: int = 7
    concurrency: int = 32
    rate: float = 2.0
    step_budget: float = 15.0
    fault_interval: float = 3.0
    max_faults: int | None = None
    kinds: tuple[str, ...] = FAULT_KINDS
    db: str = "auto"
    settle_timeout: float = 300.0
    patience: float = 300.0  # how long one client call keeps retrying UNAVAILABLE
    report: Path | None = None
    state_dir: Path | None = None
    quiet: bool = False
    replicas: int = 1  # of each booking service; more than one needs PostgreSQL
    workers: int = 1
    apis: int = 1
    plan: PlanOptions = field(init=False)

    def __post_init__(self) -> None:
        if min(self.replicas, self.workers, self.apis) < 1:
            raise ValueError("--replicas, --workers and --apis must be at least 1")
        if self.replicas > 1 and self.db == "sqlite":
            raise ValueError("replicas of a service share one database: --replicas needs PostgreSQL")
        self.plan = PlanOptions(
            trips=self.trips,
            seed=self.seed,
            fault_interval=self.fault_interval,
            kinds=self.kinds,
            replicas=self.replicas,
            workers=self.workers,
            apis=self.apis,
        )

    @property
    def scale(self) -> Scale:
        r = self.replicas
        return Scale(flight=r, hotel=r, cab=r, workers=self.workers, apis=self.apis)


def parse_args(argv: list[str] | None = None, description: str | None = None) -> ChaosConfig:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.chaos",
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--trips", type=int, default=300, help="trips to book (default 300)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the trips and faults (default 7)")
    parser.add_argument("--concurrency", type=int, default=32, help="trips in flight at once (default 32)")
    parser.add_argument(
        "--rate",
        type=float,
        default=2.0,
        help="trips started per second, so that the faults spread over the run (default 2; 0: no pacing)",
    )
    parser.add_argument(
        "--step-budget", type=float, default=15.0, help="TRIP_STEP_BUDGET_SECONDS of the stack (default 15)"
    )
    parser.add_argument(
        "--fault-interval",
        type=float,
        default=3.0,
        help="mean seconds between faults in each of two lanes (services; worker, API, Temporal); default 3",
    )
    parser.add_argument("--max-faults", type=int, default=None, help="stop injecting after this many")
    parser.add_argument(
        "--faults",
        default=",".join(FAULT_KINDS),
        help=f"comma-separated fault kinds to draw from (default all: {','.join(FAULT_KINDS)})",
    )
    parser.add_argument(
        "--db",
        choices=("auto", "postgres", "sqlite"),
        default="auto",
        help="services on a fresh PostgreSQL database (auto: when 127.0.0.1:5432 answers; "
        "CHAOS_POSTGRES_DSN moves it) or on SQLite files",
    )
    parser.add_argument(
        "--settle-timeout", type=float, default=300.0, help="seconds for trips to settle after the faults"
    )
    parser.add_argument(
        "--report", type=Path, default=None, help="JSON report (default var/chaos/<run>/report.json)"
    )
    parser.add_argument(
        "--state-dir", type=Path, default=None, help="databases and logs (default var/chaos/<run>)"
    )
    parser.add_argument("--quiet", action="store_true", help="only the final table")
    scale = parser.add_argument_group("scale-out (docs/deploy.md)")
    scale.add_argument(
        "--replicas",
        type=int,
        default=1,
        help="replicas of each booking service, on the run's PostgreSQL database (default 1)",
    )
    scale.add_argument("--workers", type=int, default=1, help="workers (default 1)")
    scale.add_argument("--apis", type=int, default=1, help="TripService API servers (default 1)")
    args = parser.parse_args(argv)
    kinds = tuple(k.strip() for k in args.faults.split(",") if k.strip())
    unknown = [k for k in kinds if k not in FAULT_KINDS]
    if unknown:
        parser.error(f"unknown fault kinds {unknown}; choose from {', '.join(FAULT_KINDS)}")
    if args.trips < 1 or args.concurrency < 1:
        parser.error("--trips and --concurrency must be at least 1")
    try:
        return _config(args, kinds)
    except ValueError as err:
        parser.error(str(err))


def _config(args: argparse.Namespace, kinds: tuple[str, ...]) -> ChaosConfig:
    return ChaosConfig(
        trips=args.trips,
        seed=args.seed,
        concurrency=args.concurrency,
        rate=args.rate,
        step_budget=args.step_budget,
        fault_interval=args.fault_interval,
        max_faults=args.max_faults,
        kinds=kinds,
        db=args.db,
        settle_timeout=args.settle_timeout,
        report=args.report,
        state_dir=args.state_dir,
        quiet=args.quiet,
        replicas=args.replicas,
        workers=args.workers,
        apis=args.apis,
    )
