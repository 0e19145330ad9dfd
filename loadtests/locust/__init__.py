"""Locustfiles of the scenarios (run by locust, in a process of their own) and their pure helpers."""
