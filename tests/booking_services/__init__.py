"""Tests of the three booking services and their shared runtime."""
