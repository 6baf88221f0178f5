"""Helpers the tests share: real processes, free ports, deadlines, databases."""
