"""The performance lab: measurements behind docs/performance.md that `make` does not run."""
