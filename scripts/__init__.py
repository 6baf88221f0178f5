"""Operator scripts run from the repo root: `python -m scripts.stack|demo|bench`; the performance lab is scripts/perf."""
