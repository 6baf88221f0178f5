"""Checks of the deploy path (Dockerfile, deploy/) that run without containers."""
