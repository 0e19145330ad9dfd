"""Activator throttler and per-request policy, socket-free on a fake clock."""
