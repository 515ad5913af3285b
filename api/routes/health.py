"""Operations endpoints: liveness, readiness (database, Redis when configured), metrics."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from api.deps import Svc
from api.metrics import exposition
from domain.adapters import db

log = logging.getLogger(__name__)
router = APIRouter(tags=["operations"])
CHECK_TIMEOUT = 2.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


async def _check(coro: object) -> bool:
    try:
        return bool(await asyncio.wait_for(coro, CHECK_TIMEOUT))  # type: ignore[arg-type]
    except Exception as exc:
        log.warning("readiness check failed: %s", exc)
        return False


@router.get("/readyz")
async def readyz(services: Svc) -> JSONResponse:
    """Readiness: 200 when the database answers; Redis down reports `degraded` (still 200)."""

    async def database() -> bool:
        await db.ping()
        return True

    checks: dict[str, str] = {"database": "ok" if await _check(database()) else "down"}
    if services.settings.redis_url:
        events_ok = await _check(services.events.healthy())
        limits_ok = await _check(services.limiter.healthy())
        checks["redis"] = "ok" if events_ok and limits_ok else "down"
    if checks["database"] != "ok":
        overall, code = "unavailable", 503
    elif "down" in checks.values():
        overall, code = "degraded", 200
    else:
        overall, code = "ok", 200
    return JSONResponse({"status": overall, "checks": checks}, status_code=code)


@router.get("/metrics", response_class=Response)
async def metrics() -> Response:
    """Prometheus metrics (of every worker when the API runs several)."""
    body, content_type = exposition()
    return Response(body, media_type=content_type)
