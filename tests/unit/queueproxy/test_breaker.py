"""The breaker: hard limit, strict FIFO queue, cancel, capacity changes; both builds."""

from __future__ import annotations

import random

import pytest

from tests.twins import load, twin_params


@pytest.fixture(params=twin_params("dataplane.queueproxy._breaker"))
def mod(request):
    return load(request.param)


class Waiter:
    """Records its admission in a shared log."""

    def __init__(self, name, log):
        self.name = name
        self.log = log

    def admitted(self):
        self.log.append(self.name)

    def __repr__(self):
        return f"Waiter({self.name!r})"


class Boom(Exception):
    pass


class RaisingWaiter(Waiter):
    def admitted(self):
        self.log.append(self.name)
        raise Boom(self.name)


def fill(mod, breaker, holders, waiters, log, prefix="w"):
    """Take ``holders`` slots, then queue ``waiters`` waiters; return the waiters."""
    for i in range(holders):
        assert breaker.acquire(Waiter(f"h{i}", log)) == mod.ADMITTED
    queued = [Waiter(f"{prefix}{i}", log) for i in range(waiters)]
    for w in queued:
        assert breaker.acquire(w) == mod.QUEUED
    return queued


def test_constants_are_the_documented_values(mod):
    assert (mod.ADMITTED, mod.QUEUED, mod.REJECTED) == (1, 0, -1)


def test_public_module_exports_the_chosen_build():
    from dataplane import _twins
    from dataplane.queueproxy import breaker

    build = _twins.chosen["dataplane.queueproxy._breaker_py"]
    suffix = {"compiled": "_c", "pure": "_py"}[build]
    assert breaker.Breaker.__module__ == "dataplane.queueproxy._breaker" + suffix
    assert (breaker.ADMITTED, breaker.QUEUED, breaker.REJECTED) == (1, 0, -1)


def test_admits_up_to_concurrency_then_queues_ten_times_then_rejects(mod):
    cc = 3
    b = mod.Breaker(cc, 10 * cc)
    log = []
    results = [b.acquire(Waiter(i, log)) for i in range(11 * cc + 2)]
    assert results == [mod.ADMITTED] * cc + [mod.QUEUED] * (10 * cc) + [mod.REJECTED] * 2
    assert (b.in_flight, b.queued, b.capacity, b.queue_depth) == (cc, 10 * cc, cc, 10 * cc)
    assert log == []  # admitted() is only for waiters that were queued


def test_release_admits_waiters_in_strict_fifo_order(mod):
    b = mod.Breaker(2, 20)
    log = []
    queued = fill(mod, b, 2, 20, log)
    for n in range(1, 21):
        b.release()
        assert log == [w.name for w in queued[:n]]
        assert (b.in_flight, b.queued) == (2, 20 - n)
    b.release()
    b.release()
    assert (b.in_flight, b.queued) == (0, 0)


def test_a_free_slot_admits_a_new_arrival_directly(mod):
    b = mod.Breaker(1, 1)
    log = []
    assert b.acquire(Waiter("a", log)) == mod.ADMITTED
    b.release()
    assert b.acquire(Waiter("b", log)) == mod.ADMITTED
    assert (b.in_flight, b.queued, log) == (1, 0, [])


def test_release_without_acquire_is_an_error_and_changes_nothing(mod):
    b = mod.Breaker(1, 1)
    with pytest.raises(RuntimeError):
        b.release()
    assert b.acquire(Waiter("a", [])) == mod.ADMITTED
    assert b.in_flight == 1


def test_cancel_frees_the_place_at_once(mod):
    b = mod.Breaker(1, 3)
    log = []
    w0, w1, w2 = fill(mod, b, 1, 3, log)
    assert b.acquire(Waiter("late", log)) == mod.REJECTED

    assert b.cancel(w1) is True
    assert b.queued == 2
    w3 = Waiter("w3", log)
    assert b.acquire(w3) == mod.QUEUED  # the freed place is usable right away

    for _ in range(4):
        b.release()
    assert log == ["w0", "w2", "w3"]  # the cancelled waiter is never admitted
    assert (b.in_flight, b.queued) == (0, 0)


def test_cancel_of_a_waiter_that_is_not_queued_is_false(mod):
    b = mod.Breaker(1, 2)
    log = []
    (w,) = fill(mod, b, 1, 1, log)
    assert b.cancel(Waiter("stranger", log)) is False
    b.release()  # w is admitted, so no longer queued
    assert b.cancel(w) is False
    assert b.cancel(w) is False
    assert (b.in_flight, b.queued) == (1, 0)


def test_a_cancelled_waiter_can_queue_again_at_the_back(mod):
    b = mod.Breaker(1, 3)
    log = []
    w0, w1 = fill(mod, b, 1, 2, log)
    assert b.cancel(w0)
    assert b.acquire(w0) == mod.QUEUED
    b.release()
    b.release()
    assert log == ["w1", "w0"]


def test_queueing_the_same_waiter_twice_is_an_error(mod):
    b = mod.Breaker(1, 3)
    log = []
    (w,) = fill(mod, b, 1, 1, log)
    with pytest.raises(ValueError):
        b.acquire(w)
    assert b.queued == 1


def test_a_waiter_without_admitted_is_refused_before_queueing(mod):
    b = mod.Breaker(1, 3)
    fill(mod, b, 1, 0, [])
    with pytest.raises(AttributeError):
        b.acquire(object())
    assert b.queued == 0


def test_zero_queue_depth_rejects_when_full(mod):
    b = mod.Breaker(1, 0)
    assert b.acquire(Waiter("a", [])) == mod.ADMITTED
    assert b.acquire(Waiter("b", [])) == mod.REJECTED


def test_invalid_sizes_are_refused(mod):
    with pytest.raises(ValueError):
        mod.Breaker(-1, 1)
    with pytest.raises(ValueError):
        mod.Breaker(1, -1)
    with pytest.raises(ValueError):
        mod.Breaker(1, 1).set_capacity(-1)
    with pytest.raises(TypeError):
        mod.Breaker(1.5, 1)
    with pytest.raises(TypeError):
        mod.Breaker(1, 1).set_capacity("2")


def test_raising_capacity_admits_waiters_immediately_in_order(mod):
    b = mod.Breaker(0, 10)  # the activator starts with no capacity
    log = []
    queued = [Waiter(i, log) for i in range(5)]
    assert [b.acquire(w) for w in queued] == [mod.QUEUED] * 5
    b.set_capacity(3)
    assert log == [0, 1, 2]
    assert (b.in_flight, b.queued, b.capacity) == (3, 2, 3)
    b.set_capacity(10)
    assert log == [0, 1, 2, 3, 4]
    assert (b.in_flight, b.queued) == (5, 0)


def test_lowering_capacity_lets_holders_finish_before_admitting(mod):
    b = mod.Breaker(3, 10)
    log = []
    fill(mod, b, 3, 2, log)
    b.set_capacity(1)
    assert b.in_flight == 3  # holders are never revoked
    assert b.acquire(Waiter("new", log)) == mod.QUEUED
    b.release()
    b.release()
    assert log == [] and b.in_flight == 1
    b.release()
    assert log == ["w0"] and b.in_flight == 1


def test_capacity_zero_blocks_everyone(mod):
    b = mod.Breaker(2, 5)
    log = []
    fill(mod, b, 2, 1, log)
    b.set_capacity(0)
    b.release()
    b.release()
    assert (b.in_flight, b.queued, log) == (0, 1, [])
    assert b.acquire(Waiter("x", log)) == mod.QUEUED


def test_a_raising_waiter_passes_its_slot_on_and_the_error_surfaces(mod):
    b = mod.Breaker(1, 5)
    log = []
    assert b.acquire(Waiter("h", log)) == mod.ADMITTED
    bad = RaisingWaiter("bad", log)
    good = Waiter("good", log)
    assert b.acquire(bad) == mod.QUEUED
    assert b.acquire(good) == mod.QUEUED

    with pytest.raises(Boom, match="bad"):
        b.release()
    assert log == ["bad", "good"]
    assert (b.in_flight, b.queued) == (1, 0)  # good holds the slot
    b.release()
    assert (b.in_flight, b.queued) == (0, 0)


def test_when_every_waiter_raises_the_slot_ends_up_free(mod):
    b = mod.Breaker(1, 5)
    log = []
    assert b.acquire(Waiter("h", log)) == mod.ADMITTED
    for name in ("a", "b"):
        assert b.acquire(RaisingWaiter(name, log)) == mod.QUEUED
    with pytest.raises(Boom, match="a"):  # the first error wins
        b.release()
    assert log == ["a", "b"]
    assert (b.in_flight, b.queued) == (0, 0)
    assert b.acquire(Waiter("next", log)) == mod.ADMITTED


def test_a_raising_waiter_during_set_capacity_keeps_the_breaker_consistent(mod):
    b = mod.Breaker(0, 5)
    log = []
    for w in (Waiter("a", log), RaisingWaiter("bad", log), Waiter("c", log), Waiter("d", log)):
        assert b.acquire(w) == mod.QUEUED
    with pytest.raises(Boom):
        b.set_capacity(3)
    assert log == ["a", "bad", "c", "d"]
    assert (b.in_flight, b.queued) == (3, 0)


def test_admitted_may_release_reentrantly(mod):
    """A request that fails the moment it is admitted gives its slot straight back."""
    b = mod.Breaker(1, 5)
    log = []

    class GivesUp(Waiter):
        def admitted(self):
            log.append(self.name)
            b.release()

    assert b.acquire(Waiter("h", log)) == mod.ADMITTED
    assert b.acquire(GivesUp("quitter", log)) == mod.QUEUED
    assert b.acquire(Waiter("next", log)) == mod.QUEUED
    b.release()
    assert log == ["quitter", "next"]
    assert (b.in_flight, b.queued) == (1, 0)


def test_admitted_may_acquire_reentrantly(mod):
    b = mod.Breaker(1, 5)
    log = []
    late = Waiter("late", log)
    results = []

    class Spawns(Waiter):
        def admitted(self):
            log.append(self.name)
            results.append(b.acquire(late))

    assert b.acquire(Waiter("h", log)) == mod.ADMITTED
    assert b.acquire(Spawns("s", log)) == mod.QUEUED
    b.release()
    assert results == [mod.QUEUED]  # the slot went to "s": nothing is free
    assert (b.in_flight, b.queued) == (1, 1)
    b.release()
    assert log == ["s", "late"]


def test_repr_shows_the_state(mod):
    b = mod.Breaker(2, 4)
    b.acquire(Waiter("h", []))
    assert repr(b) == "<Breaker in_flight=1 capacity=2 queued=0/4>"


class Model:
    """The breaker's contract, written as plainly as possible."""

    def __init__(self, capacity, depth):
        self.capacity = capacity
        self.depth = depth
        self.in_flight = 0
        self.queue = []
        self.log = []

    def acquire(self, w):
        if self.in_flight < self.capacity:
            self.in_flight += 1
            return 1
        if len(self.queue) >= self.depth:
            return -1
        self.queue.append(w)
        return 0

    def release(self):
        self.in_flight -= 1
        self._admit()

    def cancel(self, w):
        if w in self.queue:
            self.queue.remove(w)
            return True
        return False

    def set_capacity(self, n):
        self.capacity = n
        self._admit()

    def _admit(self):
        while self.queue and self.in_flight < self.capacity:
            self.log.append(self.queue.pop(0).name)
            self.in_flight += 1


@pytest.mark.parametrize("seed", range(8))
def test_random_operations_match_the_reference_model(mod, seed):
    rng = random.Random(seed)
    capacity, depth = rng.randint(0, 4), rng.randint(0, 12)
    b = mod.Breaker(capacity, depth)
    model = Model(capacity, depth)
    log = []
    queued_at_some_point = []
    for step in range(3000):
        op = rng.random()
        if op < 0.45:
            w = Waiter(step, log)
            got, want = b.acquire(w), model.acquire(w)
            assert got == want, step
            if got == mod.QUEUED:
                queued_at_some_point.append(w)
        elif op < 0.8:
            if model.in_flight:
                b.release()
                model.release()
        elif op < 0.97:
            if queued_at_some_point:
                w = rng.choice(queued_at_some_point)
                assert b.cancel(w) == model.cancel(w), step
        else:
            n = rng.randint(0, 6)
            b.set_capacity(n)
            model.set_capacity(n)
        assert (b.in_flight, b.queued, b.capacity) == (model.in_flight, len(model.queue), model.capacity), step
        assert log == model.log, step
