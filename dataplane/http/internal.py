"""Headers the platform's own hops set and read for one another.

A client's copies mean nothing and may mislead (pick a revision, hide a request
from the autoscaler's count, change the Host the app sees): the router drops
them before anything reads them, and the queue-proxy drops every one of them
before the app. Probe headers are answered by the proxy and never forwarded.
"""

from __future__ import annotations

INTERNAL = frozenset(
    {
        b"k-proxy-request",
        b"k-original-host",
        b"k-network-probe",
        b"k-network-hash",
        b"k-kubelet-probe",
        b"k-passthrough-lb",
        b"knative-serving-revision",
        b"knative-serving-namespace",
        b"knative-serving-tag",
        b"knative-serving-default-route",
    }
)
