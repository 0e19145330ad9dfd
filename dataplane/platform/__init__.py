"""The platforms the shared reconcilers run on: ``local`` (processes, SQLite, the control API) and
``kubernetes`` (kubernetes-asyncio, informers, Deployments, HTTPRoutes). Each has its ``runtime`` module:
the controller's Runtime seam for that platform.
"""
