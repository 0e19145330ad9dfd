"""The revision directory: what the activator and the autoscaler know of revisions, pods and routes.

One JSON snapshot format, fed by either backend and followed by long-polling.
"""

from dataplane.directory.snapshot import (
    DirectoryError,
    PodInfo,
    RevisionInfo,
    RouteTable,
    Snapshot,
    parse_snapshot,
)

__all__ = ["DirectoryError", "PodInfo", "RevisionInfo", "RouteTable", "Snapshot", "parse_snapshot"]
