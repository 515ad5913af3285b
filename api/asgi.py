"""ASGI entry for uvicorn workers: `uvicorn --factory api.asgi:build` (settings from env)."""

from __future__ import annotations

from fastapi import FastAPI

from api.app import create_app
from domain.adapters import logs
from domain.settings import get_settings


def build() -> FastAPI:
    """A fully owned app: its lifespan opens and closes the database."""
    settings = get_settings()
    logs.configure(settings)  # each worker process sets up its own log handler
    return create_app(settings)
