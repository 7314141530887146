"""What every channel sandbox offers to the process that hosts it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from starlette.types import ASGIApp


@dataclass(frozen=True)
class SandboxConfig:
    """``base_url`` is where the sandbox server is reached (``http://127.0.0.1:8090``);
    a channel sandbox lives under ``base_url + "/" + name``. ``data_dir`` keeps each
    sandbox's keys and demo merchant (``data_dir/<name>.json``) so that credentials
    survive restarts. ``time_scale`` multiplies every notification delay."""

    base_url: str
    data_dir: Path
    time_scale: float = 1.0


class ChannelSandbox(Protocol):
    name: str

    @property
    def app(self) -> ASGIApp:
        """The ASGI app, mounted at ``/<name>``."""
        ...

    async def start(self) -> None:
        """Start background work (notification delivery)."""

    async def stop(self) -> None: ...

    def credentials(self) -> dict[str, Any]:
        """The demo merchant's credentials (what ``paygate sandbox credentials`` prints)."""
        ...
