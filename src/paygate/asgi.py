"""ASGI factories for running the listeners under any ASGI server with several workers:

    uvicorn --factory paygate.asgi:internal_app --workers 4 --port 8000
    uvicorn --factory paygate.asgi:public_app --workers 2 --port 8001

Each worker builds its own container from the environment (``PAYGATE_*``) at start-up and
closes it on shutdown. Run ``paygate migrate`` once before.
"""

from __future__ import annotations

from fastapi import FastAPI

from paygate.api.internal import create_internal_app
from paygate.api.public import create_public_app
from paygate.bootstrap import build_container
from paygate.config import load_settings
from paygate.kit.logging import configure_logging

__all__ = ["internal_app", "public_app"]


def internal_app() -> FastAPI:
    settings = load_settings()
    configure_logging(settings.log_level, json_lines=settings.log_json)
    container = build_container(settings)
    return create_internal_app(container.internal_services(), lifespan=(container.start, container.aclose))


def public_app() -> FastAPI:
    settings = load_settings()
    configure_logging(settings.log_level, json_lines=settings.log_json)
    container = build_container(settings)
    return create_public_app(container.public_services(), lifespan=(container.start, container.aclose))
