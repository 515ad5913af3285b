"""Redis configured but down: claims go on, limits fall back per process, events are delivered
locally with a log line, /readyz says degraded; when Redis returns everything recovers by
itself. A private redis-server is started and stopped here (never the shared one)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis

from api.app import create_app
from bench.chaos.servers import Redis
from domain.adapters.bootstrap import Services, bootstrap
from domain.adapters.events import RedisEventBus
from domain.events import Event
from domain.settings import Settings
from tests import factories

pytestmark = pytest.mark.redis
RECOVERY_DEADLINE = 20.0


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[Redis]:
    server = Redis(tmp_path)
    try:
        server.start()
    except FileNotFoundError:
        pytest.skip("redis-server is not installed")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def redis_services(db: Settings, private_redis: Redis) -> AsyncIterator[Services]:
    settings = db.model_copy(update={"redis_url": private_redis.url})
    services = bootstrap(settings)
    try:
        yield services
    finally:
        await services.close()


@pytest.fixture
async def http(redis_services: Services) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(redis_services.settings, redis_services, manage_database=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def _campaign(codes: int) -> str:
    dev, _ = await factories.developer()
    c = await factories.campaign(dev.id)
    await factories.upload_codes(dev.id, c.id, factories.codes_csv(codes, "DEGR"))
    return c.id


async def _eventually(check: object, what: str) -> None:
    """Wait for an outside system (Redis coming back) to be noticed, with a deadline."""
    start = time.monotonic()
    while time.monotonic() - start < RECOVERY_DEADLINE:
        if await check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what} within {RECOVERY_DEADLINE:.0f} s")


async def test_claims_go_on_while_redis_is_down_and_the_service_recovers_by_itself(
    http: httpx.AsyncClient,
    redis_services: Services,
    private_redis: Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cid = await _campaign(20)
    events = redis_services.events
    assert isinstance(events, RedisEventBus)
    received: asyncio.Queue[Event] = asyncio.Queue()

    async def listen() -> None:
        async for event in events.subscribe():
            received.put_nowait(event)

    listener = asyncio.create_task(listen())
    try:
        ready = (await http.get("/readyz")).json()
        assert ready == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}

        # Redis is up: events travel through it (another process's bus reaches us)
        other_process = RedisEventBus(private_redis.url)
        try:

            async def through_redis() -> bool:
                await other_process.publish(Event("ping", cid, 0, {}))
                try:
                    return (await asyncio.wait_for(received.get(), 0.5)).name == "ping"
                except TimeoutError:
                    return False

            await _eventually(through_redis, "the event reader did not subscribe")
        finally:
            await other_process.close()

        private_redis.stop()
        caplog.set_level(logging.WARNING)
        redis_services.settings.rate_limit_distribute_ip = "3/minute"
        answers = [
            await http.post(f"/api/distribute/{cid}", json={"user_identifier": f"d{i}"})
            for i in range(4)
        ]
        # claims work; the per-process limiter still counts and refuses the 4th
        assert [a.status_code for a in answers] == [201, 201, 201, 429]
        assert answers[3].json()["code"] == "rate_limited"
        assert "limiting per process" in caplog.text
        # events are not lost for this process, and the loss of fan-out is logged
        event = await asyncio.wait_for(received.get(), 5)
        assert event.name == "code_claimed" and event.campaign_id == cid
        assert "delivered in this process only" in caplog.text
        degraded = await http.get("/readyz")
        assert degraded.status_code == 200
        assert degraded.json() == {
            "status": "degraded",
            "checks": {"database": "ok", "redis": "down"},
        }

        private_redis.start()
        redis_services.settings.rate_limit_distribute_ip = "100/minute"

        async def ready_again() -> bool:
            return bool((await http.get("/readyz")).json()["status"] == "ok")

        await _eventually(ready_again, "readiness did not return to ok")
        probe = aioredis.Redis.from_url(private_redis.url)
        try:

            async def limits_back_in_redis() -> bool:
                r = await http.get(f"/api/distribute/{cid}")
                assert r.status_code == 200, r.text
                return bool(await probe.keys("*card-ip*"))

            await _eventually(limits_back_in_redis, "the limiter did not go back to Redis")
            after = await http.post(f"/api/distribute/{cid}", json={"user_identifier": "late"})
            assert after.status_code == 201 and await probe.keys("*claim-ip*")

            second = RedisEventBus(private_redis.url)
            try:

                async def fan_out_back() -> bool:
                    await second.publish(Event("pong", cid, 0, {}))
                    try:
                        while True:
                            got = await asyncio.wait_for(received.get(), 0.5)
                            if got.name == "pong":
                                return True
                    except TimeoutError:
                        return False

                await _eventually(fan_out_back, "the event reader did not reconnect")
            finally:
                await second.close()
        finally:
            await probe.aclose()
    finally:
        listener.cancel()
        await asyncio.gather(listener, return_exceptions=True)
