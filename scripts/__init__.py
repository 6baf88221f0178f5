"""Operator scripts run from the repo root: `python -m scripts.stack|demo|bench`.

Only what `make` runs lives here; the performance lab is scripts/perf.
"""
