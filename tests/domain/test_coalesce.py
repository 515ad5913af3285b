"""The group-commit mechanism on its own: what arrives together runs together."""

from __future__ import annotations

import asyncio

import pytest

from domain.claims.coalesce import Coalescer


class Recorder:
    """A batch runner that remembers each batch and can be held open or made to fail."""

    def __init__(self) -> None:
        self.batches: list[tuple[str, list[int]]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail_next = False

    async def run(self, key: str, items: list[int]) -> list[int]:
        self.batches.append((key, list(items)))
        await self.gate.wait()
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("database went away")
        return [item * 10 for item in items]


async def test_a_lone_request_runs_at_once_as_a_batch_of_one() -> None:
    rec = Recorder()
    coalescer: Coalescer[str, int, int] = Coalescer(rec.run, max_batch=50, max_inflight=1)
    assert await coalescer.submit("a", 7) == 70
    assert rec.batches == [("a", [7])]
    assert (coalescer.batches, coalescer.items) == (1, 1)


async def test_what_arrives_while_a_batch_is_in_flight_goes_in_the_next_one() -> None:
    rec = Recorder()
    sizes: list[int] = []
    coalescer: Coalescer[str, int, int] = Coalescer(rec.run, max_batch=50, max_inflight=1)
    coalescer.observe = sizes.append
    rec.gate.clear()
    first = asyncio.ensure_future(coalescer.submit("a", 1))
    await asyncio.sleep(0)
    rest = [asyncio.ensure_future(coalescer.submit("a", n)) for n in range(2, 12)]
    await asyncio.sleep(0)
    rec.gate.set()
    assert await asyncio.gather(first, *rest) == [n * 10 for n in range(1, 12)]
    assert [items for _, items in rec.batches] == [[1], list(range(2, 12))]
    assert sizes == [1, 10]


async def test_batches_never_exceed_max_batch_and_keys_never_mix() -> None:
    rec = Recorder()
    coalescer: Coalescer[str, int, int] = Coalescer(rec.run, max_batch=4, max_inflight=1)
    rec.gate.clear()
    futures = [asyncio.ensure_future(coalescer.submit("ab"[n % 2], n)) for n in range(12)]
    await asyncio.sleep(0)
    rec.gate.set()
    assert await asyncio.gather(*futures) == [n * 10 for n in range(12)]
    assert all(len(items) <= 4 for _, items in rec.batches)
    for key, items in rec.batches:
        assert all("ab"[n % 2] == key for n in items)
    assert sorted(n for _, items in rec.batches for n in items) == list(range(12))


async def test_a_failed_batch_fails_its_own_waiters_and_the_next_batch_is_served() -> None:
    rec = Recorder()
    coalescer: Coalescer[str, int, int] = Coalescer(rec.run, max_batch=50, max_inflight=1)
    rec.gate.clear()
    rec.fail_next = True
    doomed = asyncio.ensure_future(coalescer.submit("a", 1))
    await asyncio.sleep(0)
    later = asyncio.ensure_future(coalescer.submit("a", 2))
    await asyncio.sleep(0)
    rec.gate.set()
    with pytest.raises(RuntimeError, match="database went away"):
        await doomed
    assert await later == 20


async def test_cancelled_waiter_does_not_break_the_batch() -> None:
    rec = Recorder()
    coalescer: Coalescer[str, int, int] = Coalescer(rec.run, max_batch=50, max_inflight=1)
    rec.gate.clear()
    gone = asyncio.ensure_future(coalescer.submit("a", 1))
    stays = asyncio.ensure_future(coalescer.submit("a", 2))
    await asyncio.sleep(0)
    gone.cancel()
    rec.gate.set()
    assert await stays == 20
    assert gone.cancelled()


def test_nonsense_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Coalescer(Recorder().run, max_batch=0)


async def test_under_load_a_batch_lingers_to_fill_but_a_lone_request_never_waits() -> None:
    rec = Recorder()
    coalescer: Coalescer[str, int, int] = Coalescer(rec.run, max_batch=50, linger=0.05)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await coalescer.submit("a", 1) == 10
    assert loop.time() - started < 0.04  # alone: no linger

    rec.gate.clear()
    first = [asyncio.ensure_future(coalescer.submit("a", n)) for n in (2, 3)]
    await asyncio.sleep(0)
    second = asyncio.ensure_future(coalescer.submit("a", 4))
    await asyncio.sleep(0)
    rec.gate.set()
    await asyncio.sleep(0.01)  # the batch of two is done; the next one is lingering
    late = asyncio.ensure_future(coalescer.submit("a", 5))
    assert await asyncio.gather(*first, second, late) == [20, 30, 40, 50]
    assert [items for _, items in rec.batches] == [[1], [2, 3], [4, 5]]
