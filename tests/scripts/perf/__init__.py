"""Tests of the performance lab (scripts/perf)."""
