"""When a revision's traffic goes through the activator, and when it may lose its last pod (pure; Knative's SKS modes).

Knative's ServerlessService has two modes: *Serve*, the revision's pods take its
traffic directly, and *Proxy*, the activator does. The autoscaler picks Serve
only when it wants pods and has burst capacity to spare; with no ready pod the
SKS is Proxy whatever was picked. Going to zero, the pods go only after the
activator is seen in the path (Knative waits for the activator's endpoints in
the public Service); here the ingress must have accepted the routes that send
the revision to the activator. Coming back, pods take traffic directly only once
one of them is ready. The backends feed these rules their own facts.
"""

from __future__ import annotations

SERVE = "Serve"
PROXY = "Proxy"
MODES = (SERVE, PROXY)


def through_activator(mode: str, ready_endpoints: int) -> bool:
    """Whether a revision's traffic must pass the activator: it is not in Serve, or no pod of it is ready."""
    return mode != SERVE or ready_endpoints == 0


def replicas_now(desired: int, current: int, activator_confirmed: bool) -> int:
    """The replicas to set now on the way to ``desired`` (``current`` is what is set).

    A revision keeps its last pod until the activator is confirmed in its path
    (``activator_confirmed``): every route that names the revision sends it to the
    activator, and the ingress has accepted that. Until then requests may still
    go straight to its pods, and a pod removed then would drop them.
    """
    if desired == 0 and current > 0 and not activator_confirmed:
        return 1
    return desired
