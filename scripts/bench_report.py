"""The benchmark's outputs: a table on stdout, results.json, and a PNG of latency and throughput."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

from scripts.bench_measure import LoadResult, ProcessUsage, mean


@dataclass
class LevelReport:
    """One (mode, concurrency) measurement, flattened for JSON and the table."""

    mode: str
    concurrency: int
    trips: int
    errors: int
    first_error: str
    seconds: float
    p50_ms: float
    p99_ms: float
    mean_ms: float
    trips_per_s: float
    cpu_ms_per_trip: dict[str, float]
    peak_rss_mb: dict[str, float]
    machine_busy_pct: float
    others_busy_pct: float  # the machine's CPU used by processes outside the benchmark (noise)

    @classmethod
    def build(
        cls, mode: str, result: LoadResult, usage: dict[str, ProcessUsage], machine_busy_share: float
    ) -> LevelReport:
        trips = max(1, result.count)
        cores = psutil.cpu_count() or 1
        ours = sum(u.cpu_s for u in usage.values()) / max(result.elapsed_s, 1e-9)
        return cls(
            mode=mode,
            concurrency=result.concurrency,
            trips=result.count,
            errors=len(result.errors),
            first_error=result.errors[0] if result.errors else "",
            seconds=round(result.elapsed_s, 2),
            p50_ms=round(result.percentile(50), 2),
            p99_ms=round(result.percentile(99), 2),
            mean_ms=round(mean(result.latencies_ms), 2),
            trips_per_s=round(result.throughput, 1),
            cpu_ms_per_trip={name: round(u.cpu_s * 1000 / trips, 2) for name, u in usage.items()},
            peak_rss_mb={name: round(u.peak_rss_mb, 1) for name, u in usage.items()},
            machine_busy_pct=round(100 * machine_busy_share, 1),
            others_busy_pct=round(max(0.0, 100 * machine_busy_share - 100 * ours / cores), 1),
        )


def _baseline(reports: list[LevelReport], concurrency: int) -> LevelReport | None:
    return next((r for r in reports if r.mode == "direct" and r.concurrency == concurrency), None)


def format_table(reports: list[LevelReport]) -> str:
    """Latency, throughput and the ratio to the direct baseline at the same concurrency; then CPU and RSS."""
    names = sorted({n for r in reports for n in r.cpu_ms_per_trip}, key=_process_order)
    head = f"{'mode':<9}{'c':>5}{'trips':>7}{'err':>5}{'p50 ms':>9}{'p99 ms':>9}{'trips/s':>9}"
    head += f"{'p50 x':>7}{'rate x':>7}{'CPU busy':>10}{'others':>8}"
    lines = [head, "-" * len(head)]
    for r in reports:
        base = _baseline(reports, r.concurrency)
        p50_x = r.p50_ms / base.p50_ms if base and base.p50_ms else math.nan
        rate_x = r.trips_per_s / base.trips_per_s if base and base.trips_per_s else math.nan
        lines.append(
            f"{r.mode:<9}{r.concurrency:>5}{r.trips:>7}{r.errors:>5}{r.p50_ms:>9.1f}{r.p99_ms:>9.1f}"
            f"{r.trips_per_s:>9.1f}{p50_x:>7.2f}{rate_x:>7.2f}{r.machine_busy_pct:>9.0f}%{r.others_busy_pct:>7.0f}%"
        )
    lines.append("")
    cpu_head = f"{'CPU ms per trip':<15}{'c':>5}" + "".join(f"{n:>10}" for n in names) + f"{'total':>10}"
    lines += [cpu_head, "-" * len(cpu_head)]
    for r in reports:
        cells = "".join(f"{r.cpu_ms_per_trip.get(n, math.nan):>10.2f}" for n in names)
        total = sum(v for k, v in r.cpu_ms_per_trip.items() if k != "bench")
        lines.append(f"{r.mode:<15}{r.concurrency:>5}{cells}{total:>10.2f}")
    lines.append("")
    rss_head = f"{'peak RSS MB':<15}{'c':>5}" + "".join(f"{n:>10}" for n in names)
    lines += [rss_head, "-" * len(rss_head)]
    for r in reports:
        cells = "".join(f"{r.peak_rss_mb.get(n, math.nan):>10.1f}" for n in names)
        lines.append(f"{r.mode:<15}{r.concurrency:>5}{cells}")
    lines.append("(total: every stack process, the benchmark client excluded)")
    lines.insert(
        len(reports) + 2,
        "(CPU busy: whole machine, all cores; others: of that, processes outside this benchmark)",
    )
    return "\n".join(lines)


def _process_order(name: str) -> int:
    order = ["temporal", "worker", "api", "flight", "hotel", "cab", "bench"]
    return order.index(name) if name in order else len(order)


def write_json(path: Path, reports: list[LevelReport], meta: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"meta": meta, "levels": [asdict(r) for r in reports]}, indent=2) + "\n")


def write_png(path: Path, reports: list[LevelReport]) -> None:
    """Two panels: p50/p99 latency (log scale) and throughput, each against concurrency."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (lat, rate) = plt.subplots(1, 2, figsize=(11, 4.2))
    for mode, colour in (("direct", "tab:blue"), ("booktrip", "tab:orange")):
        rows = sorted((r for r in reports if r.mode == mode), key=lambda r: r.concurrency)
        if not rows:
            continue
        xs = [r.concurrency for r in rows]
        lat.plot(xs, [r.p50_ms for r in rows], "o-", color=colour, label=f"{mode} p50")
        lat.plot(xs, [r.p99_ms for r in rows], "s--", color=colour, alpha=0.6, label=f"{mode} p99")
        rate.plot(xs, [r.trips_per_s for r in rows], "o-", color=colour, label=mode)
    for axis in (lat, rate):
        axis.set_xscale("log")
        axis.set_xlabel("concurrency (clients)")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend()
    lat.set_yscale("log")
    lat.set_ylabel("latency ms")
    lat.set_title("Latency per trip")
    rate.set_ylabel("trips per second")
    rate.set_title("Throughput")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
