"""Options every paygate FastAPI app is made with."""

from __future__ import annotations

import inspect
from typing import Any

from fastapi import FastAPI

__all__ = ["APP_OPTIONS"]

#: paygate's metrics are Prometheus (kit/metrics.py) and it configures no OpenTelemetry.
#: FastAPI's native OpenTelemetry hooks (in the versions that have them) look the global
#: providers up on every request — environment reads that were 3 % of a cached query's CPU
#: (issue 11) — so they are switched off.
APP_OPTIONS: dict[str, Any] = (
    {"telemetry": {"tracing": False, "metrics": False, "logs": False}}
    if "telemetry" in inspect.signature(FastAPI.__init__).parameters
    else {}
)
