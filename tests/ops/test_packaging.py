"""The package is sound: every third-party import is a declared dependency, `codedrop
--version` answers, and `codedrop settings` tells where each value came from and when the
development placeholder secret is in use."""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.conftest import ROOT

PACKAGES = ("domain", "api", "bots", "scheduler", "cli")
PROBED = {"asyncmy"}  # domain.adapters.db looks for it to name the MySQL driver; never installed


def declared() -> set[str]:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return {_norm(re.split(r"[<>=\[ ;!~]", d)[0]) for d in deps}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_third_party_import_of_the_code_is_a_declared_dependency() -> None:
    imported: set[str] = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    imported.update(a.name.split(".")[0] for a in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    imported.add(node.module.split(".")[0])
    third_party = imported - set(sys.stdlib_module_names) - set(PACKAGES) - PROBED
    providers = importlib.metadata.packages_distributions()
    undeclared = {
        module: providers.get(module)
        for module in third_party
        if not {_norm(d) for d in providers.get(module, [])} & declared()
    }
    assert undeclared == {}


def codedrop(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CODEDROP_")}
    environ["PYTHONPATH"] = str(ROOT)
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-m", "cli", *args], cwd=cwd, env=environ, capture_output=True, text=True
    )


def test_codedrop_version_prints_the_package_version(tmp_path: Path) -> None:
    done = codedrop("--version", cwd=tmp_path)
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert done.returncode == 0 and done.stdout.strip() == f"codedrop, version {version}"


def test_settings_say_where_each_value_came_from_and_flag_the_placeholder_secret(
    tmp_path: Path,
) -> None:
    (tmp_path / ".env").write_text(
        (ROOT / ".env.example").read_text() + "\nCODEDROP_REPORT_HOUR=7\n"
    )
    done = codedrop("settings", cwd=tmp_path, CODEDROP_ARCHIVE_HOUR="4")
    assert done.returncode == 0, done.stderr
    lines = dict(line.split("=", 1) for line in done.stdout.splitlines()[1:])
    env_file = str((tmp_path / ".env").resolve())
    assert lines["CODEDROP_ARCHIVE_HOUR"] == "4  # environment"
    assert lines["CODEDROP_REPORT_HOUR"] == f"7  # {env_file}"
    assert lines["CODEDROP_UPLOAD_BATCH_SIZE"] == "1000  # default"
    # .env.example's change-me is the development placeholder, and says so
    assert lines["CODEDROP_SECRET_KEY"].startswith("(the development placeholder")
    # an empty line of .env.example means "not set" (and works for a local run)
    assert lines["CODEDROP_DISCORD_GUILD_ID"] == "None  # default"
    assert "CODEDROP_S3_BUCKET=None  # default" in done.stdout
    real = codedrop("settings", cwd=tmp_path, CODEDROP_SECRET_KEY="r" * 40)
    assert "CODEDROP_SECRET_KEY=(set)  # environment" in real.stdout
