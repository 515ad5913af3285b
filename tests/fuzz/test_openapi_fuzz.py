"""The OpenAPI schema, fuzzed by schemathesis against the real service over HTTP.

Every operation gets generated requests (valid and invalid, with a real developer key, rate
limits off so the requests reach deep), 150 examples per operation and mode
(`CODEDROP_FUZZ_EXAMPLES`), derandomized (a fixed seed: a failure reproduces). The checks:
every check schemathesis has (status codes, content types, bodies and headers as documented,
valid data accepted, invalid data refused, `Allow` on 405s, ...), never a 5xx, and every error
an RFC 9457 `application/problem+json` body with a stable `code`.
The service runs as `codedrop api` (uvicorn) on its own SQLite file, so generated requests
can change anything without touching other tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.modes import GenerationMode

from bench.chaos.servers import ROOT, ApiService

MAX_EXAMPLES = int(os.environ.get("CODEDROP_FUZZ_EXAMPLES", "150"))


class LiveApi:
    def __init__(self, base_url: str, key: str) -> None:
        self.base_url = base_url
        self.auth = {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def live_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    workdir = tmp_path_factory.mktemp("fuzz")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEDROP_")}
    env["CODEDROP_ENV_FILE"] = ""  # never read a .env lying in the repository
    env.update(
        {
            "CODEDROP_ENVIRONMENT": "test",
            "CODEDROP_DATABASE_URL": f"sqlite://{workdir / 'fuzz.sqlite3'}",
            "CODEDROP_STORAGE_DIR": str(workdir / "objects"),
            "CODEDROP_LOG_LEVEL": "WARNING",
            # the fuzzer is one client hammering every route: limits would only answer 429
            "CODEDROP_RATE_LIMIT_ENABLED": "false",
        }
    )
    api = ApiService(workdir, env, workers=1)
    api.migrate()
    created = subprocess.run(
        [sys.executable, "-m", "cli", "developers", "create", "--name", "F", "--email", "f@x.io"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    key = created.stdout.strip().splitlines()[-1]
    api.start()
    try:
        yield LiveApi(api.base_url, key)
    finally:
        api.stop()
        log = Path(api.dir / "api.log")
        if log.exists() and "unexpected error" in log.read_text():
            print(log.read_text()[-5000:])


def _operations() -> list[Any]:
    """Every operation of the app's schema (built in-process: no database needed for it)."""
    from api.app import create_app
    from domain.settings import Settings

    app = create_app(Settings(_env_file=None, environment="test"))
    loaded = schemathesis.openapi.from_dict(app.openapi())
    return [result.ok() for result in loaded.get_all_operations()]  # type: ignore[union-attr]


OPERATIONS = [
    op
    for op in _operations()
    # streams and Prometheus text are not JSON contracts
    if op.path != "/metrics" and not op.path.endswith("/live")
]


def problem_json(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every 4xx/5xx answer is a problem+json body with a stable machine code."""
    if response.status_code < 400:
        return None
    content_type = response.headers.get("content-type", [""])
    content_type = content_type[0] if isinstance(content_type, list) else content_type
    assert content_type.startswith("application/problem+json"), (
        f"{response.status_code} answered as {content_type!r}"
    )
    body = response.json()
    assert body["status"] == response.status_code and body["code"] and body["type"], body
    return True


def no_server_error(ctx: Any, response: Any, case: Any) -> bool | None:
    """Never a 5xx (the only 503 is the database being down, which it is not here)."""
    assert response.status_code < 500, f"{response.status_code}: {response.text[:300]}"
    return True


def _strategy(operation: Any, mode: GenerationMode, live_api: LiveApi) -> Any:
    """Cases for `operation`; half of them aimed at a real campaign of the caller's.

    A generated id almost never names a campaign, so without this every change would stop at
    a 404 and never reach the rules behind it (a PATCH with `waitlist_enabled: null` or a
    threshold of 10**19 found nothing). Each test gets its own campaign: a generated DELETE
    may remove it.
    """
    anywhere = operation.as_strategy(generation_mode=mode)
    names = {p.name for p in operation.path_parameters}
    if "campaign_id" not in names:
        return anywhere
    r = httpx.post(
        live_api.base_url + "/api/campaigns",
        json={"name": "Fuzz", "ends_at": "2099-01-01T00:00:00Z"},
        headers=live_api.auth,
    )
    assert r.status_code == 201, r.text
    aimed = operation.as_strategy(
        generation_mode=mode, path_parameters={"campaign_id": r.json()["id"]}
    )
    return st.one_of(anywhere, aimed)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.label)
def test_every_operation_answers_within_its_schema(
    operation: Any, mode: GenerationMode, live_api: LiveApi
) -> None:
    @given(case=_strategy(operation, mode, live_api))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def exchange(case: Any) -> None:
        headers = dict(case.headers or {})
        meta = case.meta
        header_mode = meta.components.get(ParameterLocation.HEADER) if meta else None
        dropped_auth = header_mode is not None and header_mode.mode is GenerationMode.NEGATIVE
        if not (dropped_auth and "Authorization" not in headers):
            # the developer key, except where the case means to send the request without it
            headers.setdefault("Authorization", live_api.auth["Authorization"])
        case.call_and_validate(
            base_url=live_api.base_url,
            headers=headers,
            # every check schemathesis has (checks=None), plus our own two
            additional_checks=[no_server_error, problem_json],
        )

    try:
        exchange()
    except Unsatisfiable:
        # e.g. a route whose only input is a free string: no request can break its schema
        assert mode is GenerationMode.NEGATIVE
        pytest.skip("this operation has no invalid input to generate")
