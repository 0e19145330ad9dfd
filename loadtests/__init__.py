"""Benchmarks of the data plane against local baselines (see README.md)."""
