"""How a revision's pods are shared out between activators (pure): Knative's activator subsetting, exact.

With ``count`` activators in the path and this one at ``index`` among them (the
directory lists them in one order for all), each takes a contiguous slice of
the pods sorted by address, ``P // count`` of them with all their slots, as
Knative's ``pickIndices``/``assignSlice`` do. The pods left over (``P % count``,
every pod when there are fewer pods than activators) are split slot by slot:
each activator gets ``cc // count`` of a pod's slots and the ``cc % count``
spare ones go round, starting at a different activator for each pod. So the
shares of all activators add up to exactly ``cc`` per pod, however requests
spread over them.

Knative gives each activator a whole pod when there are fewer pods than
activators, and ``ceil(cc / count)`` of each left-over pod, which can hand a
pod more than ``cc`` requests (its queue-proxy then queues them). Here that
cannot happen; the price is that with fewer slots than activators
(``P × cc < count``) some activator has none and holds its requests until the
autoscaler, which counts them, adds pods.
"""

from __future__ import annotations

UNKNOWN = -1
"""The index of an activator the directory does not list (not ready yet, or draining)."""


def pod_slots(pods: int, concurrency: int, index: int, count: int) -> list[int]:
    """This activator's slots on each of ``pods`` pods (in address order); 0 where it has none.

    ``concurrency`` is the revision's containerConcurrency (> 0). An unknown
    ``index`` or a single activator takes every slot, as Knative's does.
    """
    if index == UNKNOWN or count <= 1 or index >= count:
        return [concurrency] * pods
    size, left = divmod(pods, count)
    slots = [0] * pods
    for j in range(index * size, (index + 1) * size):
        slots[j] = concurrency
    base, spare = divmod(concurrency, count)
    first = pods - left
    for k in range(left):
        # the spare slots of the k-th left-over pod go to the activators k, k+1, ... (mod count)
        slots[first + k] = base + (1 if (index - k) % count < spare else 0)
    return slots


def activator_share(activators: tuple[str, ...], me: str, previous: tuple[int, int]) -> tuple[int, int]:
    """``(index, count)`` of activator ``me`` among ``activators`` (the directory's order).

    An empty list (one activator, as ``dataplane up`` runs) means every slot is
    this one's. An activator missing from a non-empty list keeps its previous
    share, as Knative's does: it is starting (no traffic reaches it yet) or
    draining (it finishes what it holds).
    """
    if not activators:
        return (UNKNOWN, 1)
    try:
        return (activators.index(me), len(activators))
    except ValueError:
        return previous
