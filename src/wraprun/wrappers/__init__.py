"""Programmatic helpers that wrap hooks call to run an action somewhere else."""
