"""ASGI entry for uvicorn workers: `uvicorn --factory api.asgi:build` (settings from env)."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from api.app import create_app
from domain.settings import get_settings


def build() -> FastAPI:
    """A fully owned app: its lifespan opens and closes the database."""
    settings = get_settings()
    logging.basicConfig(level=settings.log_level.upper())
    return create_app(settings)
