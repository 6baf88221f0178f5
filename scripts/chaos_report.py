"""A chaos run's report: the table printed at the end, and the JSON file with every detail."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from scripts.chaos_clients import Answer
from scripts.chaos_invariants import Invariant
from scripts.chaos_observe import Observed

LISTED_ON_BREAK = 10  # violations printed per broken invariant (the JSON keeps more)


def answer_counts(answers: Sequence[Answer]) -> dict[str, dict[str, int]]:
    """Final answers by method and code, and attempts retried (codes before the final one)."""
    counts: dict[str, dict[str, int]] = {}
    for answer in answers:
        by_code = counts.setdefault(answer.method, {})
        by_code[answer.code] = by_code.get(answer.code, 0) + 1
    retried = Counter(code for a in answers for code in a.attempts[:-1])
    counts["retried attempts"] = dict(retried)
    return counts


def trip_counts(observed: Observed) -> dict[str, int]:
    counts = Counter((t.status if t is not None else "NO_TRIP") for t in observed.trips.values())
    return dict(sorted(counts.items()))


def render(report: dict[str, Any], invariants: Sequence[Invariant]) -> str:
    """The table: run, faults injected, answers, trips, invariants, then what broke."""
    lines = []
    run = report["run"]
    lines.append(
        f"chaos run: seed {run['seed']}, {run['trips']} trips, concurrency {run['concurrency']}, "
        f"databases {run['database']}, step budget {run['step_budget_seconds']:g}s"
    )
    if "scale" in run:
        scale = run["scale"]
        lines.append(
            f"scale: {scale['replicas']} replicas of each service, {scale['workers']} workers, "
            f"{scale['apis']} APIs"
        )
    phases = report["seconds"]
    lines.append("wall time: " + ", ".join(f"{name} {seconds:.0f}s" for name, seconds in phases.items()))
    lines.append("")
    lines.append(f"{'fault injected':<42}{'count':>7}")
    for kind, count in report["faults"]["by_kind"].items():
        lines.append(f"  {kind:<40}{count:>7}")
    lines.append(f"  {'total':<40}{report['faults']['total']:>7}")
    kills = report["faults"]["sigkills"]
    lines.append("  SIGKILLs by process: " + ", ".join(f"{k} {v}" for k, v in sorted(kills.items())))
    if report["faults"]["sigterms"]:
        terms = report["faults"]["sigterms"]
        lines.append("  SIGTERMs by process: " + ", ".join(f"{k} {v}" for k, v in sorted(terms.items())))
    if report["faults"]["unexpected_exits"]:
        exits = report["faults"]["unexpected_exits"]
        lines.append("  died on their own (revived): " + ", ".join(f"{k} {v}" for k, v in exits.items()))
    lines.append("")
    lines.append("final answers:")
    for method, codes in report["answers"].items():
        lines.append(f"  {method:<18}" + ", ".join(f"{code} {n}" for code, n in sorted(codes.items())))
    lines.append(
        "trips: " + ", ".join(f"{s.removeprefix('TRIP_STATUS_')} {n}" for s, n in report["trips"].items())
    )
    lines.append(
        f"booking rows: {report['rows']['total']} ({report['rows']['booked']} BOOKED), "
        f"slots checked: {report['slots']}"
    )
    if report.get("work"):
        lines.append("")
        lines += work_lines(report["work"])
    lines.append("")
    lines.append(f"{'invariant':<38}{'checked':>8}{'broken':>8}  held")
    for inv in invariants:
        lines.append(f"{inv.name:<38}{inv.checked:>8}{len(inv.violations):>8}  {'yes' if inv.held else 'NO'}")
    broken = [inv for inv in invariants if not inv.held]
    for inv in broken:
        lines.append("")
        lines.append(f"BROKEN {inv.name}: {inv.description}")
        for violation in inv.violations[:LISTED_ON_BREAK]:
            lines.append("  " + json.dumps(violation, sort_keys=True)[:600])
        if len(inv.violations) > LISTED_ON_BREAK:
            lines.append(f"  ... {len(inv.violations) - LISTED_ON_BREAK} more in the JSON report")
    lines.append("")
    lines.append(f"report: {report['report_path']}")
    lines.append(
        "RESULT: " + ("every invariant held" if not broken else f"{len(broken)} invariant(s) broken")
    )
    return "\n".join(lines)


def work_lines(work: dict[str, dict[str, int]]) -> list[str]:
    """The scaled run's "who did work" section: one line per process, what it did."""
    lines = [f"{'who did work':<14}what"]
    for name, counts in work.items():
        lines.append(f"  {name:<12}" + ", ".join(f"{what} {n}" for what, n in counts.items()))
    return lines


def write(path: Path, report: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, sort_keys=False) + "\n")
