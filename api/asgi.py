"""ASGI entry for uvicorn workers: `uvicorn --factory api.asgi:build` (settings from env)."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from api.app import create_app
from domain import log_escape
from domain.settings import get_settings


def build() -> FastAPI:
    """A fully owned app: its lifespan opens and closes the database."""
    settings = get_settings()
    logging.basicConfig(level=settings.log_level.upper())
    log_escape.install()  # after uvicorn configured its own loggers in this worker
    return create_app(settings)
