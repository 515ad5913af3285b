"""docker-compose.yml starts today: it validates, every image is pinned, every CODEDROP_* of
`.env` reaches every codedrop service, and the image runs as its non-root user with a health
check. No Docker engine here: `docker-compose config` (Debian's v1.29) validates the file."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from domain.settings import Settings
from tests.conftest import IN_CI, ROOT
from tests.fakes.s3 import moto_endpoint

__all__ = ["moto_endpoint"]

# a version has at least two numbers (`3.85`, `10.11.10`, `v1.0.1`); `latest`, a bare major
# (`7-alpine`) or no tag at all floats to whatever is published next
PINNED = re.compile(r"^v?\d+\.\d+(\.\d+)*([-_.][A-Za-z0-9.-]+)?$")


def unpinned(config: dict[str, Any]) -> list[str]:
    """The services whose image is not pinned to a version (or a digest)."""
    found = []
    for name, service in config["services"].items():
        image = str(service.get("image", ""))
        if "@sha256:" in image:
            continue
        tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else ""
        if not PINNED.match(tag):
            found.append(f"{name}: {image or '(no image)'}")
    return found


def compose_config(folder: Path, compose: str, env: str) -> dict[str, Any]:
    """`docker-compose config` of `compose` with `env` as its .env, in a scratch folder."""
    if shutil.which("docker-compose") is None:
        if IN_CI:
            pytest.fail("docker-compose is not installed; CI requires it")
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    (folder / "deploy").mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "deploy" / "nginx.conf", folder / "deploy" / "nginx.conf")
    (folder / "docker-compose.yml").write_text(compose)
    (folder / ".env").write_text(env)
    done = subprocess.run(
        ["docker-compose", "-f", "docker-compose.yml", "config"],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    loaded: dict[str, Any] = yaml.safe_load(done.stdout)
    return loaded


def example_env(**changes: str) -> str:
    text = (ROOT / ".env.example").read_text()
    for name, value in changes.items():
        text, n = re.subn(rf"^{name}=.*$", f"{name}={value}", text, flags=re.M)
        if not n:
            text += f"\n{name}={value}\n"
    return text


def codedrop_services(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: s for name, s in config["services"].items() if str(s["image"]).startswith("codedrop:")
    }


@pytest.fixture
def config(tmp_path: Path) -> dict[str, Any]:
    env = example_env(
        CODEDROP_SECRET_KEY="0" * 64,
        MARIADB_PASSWORD="db-pass",
        MARIADB_ROOT_PASSWORD="root-pass",
        S3_SECRET_KEY="s3-secret",
        CODEDROP_DISCORD_GUILD_ID="1234",
        CODEDROP_RATE_LIMIT_DISTRIBUTE_IP="7/minute",
    )
    return compose_config(tmp_path, (ROOT / "docker-compose.yml").read_text(), env)


def test_the_compose_file_validates_and_pins_every_image(config: dict[str, Any]) -> None:
    assert unpinned(config) == []
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert {s["image"] for s in codedrop_services(config).values()} == {f"codedrop:{version}"}
    assert not any("minio" in str(s["image"]) for s in config["services"].values())


def test_the_pin_check_fails_on_an_unpinned_image(tmp_path: Path) -> None:
    compose = (ROOT / "docker-compose.yml").read_text()
    for floating in ("redis:latest", "redis:7-alpine", "redis"):
        changed = compose.replace("image: redis:7.4.1-alpine", f"image: {floating}")
        assert changed != compose
        env = example_env(S3_SECRET_KEY="x", MARIADB_PASSWORD="x", MARIADB_ROOT_PASSWORD="x")
        config = compose_config(tmp_path / floating.replace(":", "_"), changed, env)
        assert unpinned(config) == [f"redis: {floating}"]


def test_every_codedrop_setting_in_env_reaches_every_codedrop_service(
    config: dict[str, Any],
) -> None:
    services = codedrop_services(config)
    assert {"api-1", "api-2", "scheduler", "telegram-bot", "discord-bot", "migrate"} <= set(
        services
    )
    for name, service in services.items():
        env = {k: "" if v is None else str(v) for k, v in service["environment"].items()}
        assert env["CODEDROP_DISCORD_GUILD_ID"] == "1234", name
        assert env["CODEDROP_RATE_LIMIT_DISTRIBUTE_IP"] == "7/minute", name
        assert "CODEDROP_TELEGRAM_BOT_USERNAME" in env, name
        # what the container's codedrop makes of it: production on MariaDB, Redis and S3
        settings = Settings(_env_file=None, **_fields(env))  # type: ignore[call-arg]
        assert settings.environment == "production" and settings.is_mysql, name
        assert settings.redis_url and settings.s3_bucket == "codedrop", name
        assert settings.discord_guild_id == 1234 and settings.discord_bot_token is None, name


def test_the_placeholder_secret_of_the_example_stops_a_production_container(
    tmp_path: Path,
) -> None:
    env = example_env(S3_SECRET_KEY="x", MARIADB_PASSWORD="x", MARIADB_ROOT_PASSWORD="x")
    config = compose_config(tmp_path, (ROOT / "docker-compose.yml").read_text(), env)
    api = codedrop_services(config)["api-1"]["environment"]
    with pytest.raises(ValueError, match="CODEDROP_SECRET_KEY is a placeholder"):
        Settings(_env_file=None, **_fields(api))  # type: ignore[call-arg]


def test_long_running_parts_have_health_checks_and_time_to_stop(config: dict[str, Any]) -> None:
    for name, service in codedrop_services(config).items():
        if name in ("migrate", "s3-bucket"):
            assert service["restart"] == "no"
            continue
        assert service["healthcheck"]["test"], name
        if name.startswith(("scheduler", "telegram", "discord")):
            assert service["healthcheck"]["test"] == ["CMD", "codedrop", "health"], name
            assert service["environment"]["CODEDROP_METRICS_PORT"], name
        grace = float(str(service["stop_grace_period"]).removesuffix("s"))
        assert grace > Settings.model_fields["shutdown_timeout"].default, name


def test_the_image_runs_as_a_user_who_owns_its_working_folder_and_checks_its_health() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    base = re.search(r"^FROM (\S+)", dockerfile, re.M)
    assert base and PINNED.match(base.group(1).split(":")[1])
    user = re.findall(r"^USER (\S+)", dockerfile, re.M)
    assert user == ["codedrop"]
    workdir = re.findall(r"^WORKDIR (\S+)", dockerfile, re.M)[-1]
    assert f"chown codedrop:codedrop {workdir}" in dockerfile  # SQLite and objects go there
    assert re.search(r"^HEALTHCHECK .*CMD", dockerfile, re.M | re.S)
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", ".venv", ".git", "*.sqlite3"} <= set(ignored)


def _fields(env: dict[str, str]) -> dict[str, object]:
    """CODEDROP_* variables as Settings keyword arguments (empty values left out, as
    `env_ignore_empty` does for the real environment)."""
    return {
        k.removeprefix("CODEDROP_").lower(): v
        for k, v in env.items()
        if k.startswith("CODEDROP_")
        and v != ""
        and k not in ("CODEDROP_ENV_FILE",)
        and k.removeprefix("CODEDROP_").lower() in Settings.model_fields
    }


def test_create_bucket_makes_the_configured_bucket_once_and_then_finds_it(
    moto_endpoint: str, tmp_path: Path
) -> None:
    import boto3

    env = {k: v for k, v in os.environ.items() if not k.startswith("CODEDROP_")}
    env.update(
        {
            "CODEDROP_ENV_FILE": "",
            "CODEDROP_S3_BUCKET": "compose-bucket",
            "CODEDROP_S3_ENDPOINT_URL": moto_endpoint,
            "CODEDROP_S3_ACCESS_KEY_ID": "codedrop",
            "CODEDROP_S3_SECRET_ACCESS_KEY": "secret",
        }
    )
    for _ in range(2):  # compose runs it at every `up`
        done = subprocess.run(
            [sys.executable, "-m", "cli", "create-bucket"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
        assert "bucket compose-bucket is ready" in done.stdout
    s3 = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        aws_access_key_id="codedrop",
        aws_secret_access_key="secret",
        region_name="us-east-1",
    )
    assert "compose-bucket" in {b["Name"] for b in s3.list_buckets()["Buckets"]}
