"""Tests of the operator scripts (make up, make demo, make bench)."""
