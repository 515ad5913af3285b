"""Settings read from the environment the way operators write them."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from domain.settings import Settings


def test_trusted_proxies_are_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEDROP_TRUSTED_PROXIES", "172.16.0.0/12, 10.0.0.1")
    assert Settings(_env_file=None).trusted_proxies == ["172.16.0.0/12", "10.0.0.1"]  # type: ignore[call-arg]


def test_a_placeholder_secret_is_refused_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEDROP_ENVIRONMENT", "production")
    monkeypatch.setenv("CODEDROP_SECRET_KEY", "change-me")
    with pytest.raises(ValidationError, match="placeholder"):
        Settings(_env_file=None)  # type: ignore[call-arg]
    monkeypatch.setenv("CODEDROP_SECRET_KEY", "x" * 40)
    assert Settings(_env_file=None).environment == "production"  # type: ignore[call-arg]


def test_an_env_file_is_read_from_the_working_folder(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    env = tmp_path / ".env"
    env.write_text(
        "CODEDROP_PUBLIC_URL=https://codes.example.com\nCODEDROP_TRUSTED_PROXIES=10.0.0.0/8\n"
    )
    s = Settings(_env_file=str(env))  # type: ignore[call-arg]
    assert s.public_url == "https://codes.example.com" and s.trusted_proxies == ["10.0.0.0/8"]
