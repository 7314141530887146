"""The sandbox server: every channel simulator mounted on one ASGI app (port 8090)."""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from paygate.sandbox.base import ChannelSandbox, SandboxConfig

__all__ = ["SandboxHost", "load_sandbox"]


def load_sandbox(name: str, config: SandboxConfig, classes: Mapping[str, str]) -> ChannelSandbox:
    """The sandbox ``name`` of ``classes`` (channel → ``"module:Class"``; the list of channels
    is ``paygate.catalog``, the one place a channel is registered)."""
    path = classes[name]
    module_name, _, cls_name = path.partition(":")
    cls = getattr(importlib.import_module(module_name), cls_name)
    sandbox: ChannelSandbox = cls(config)
    return sandbox


class SandboxHost:
    def __init__(self, config: SandboxConfig, classes: Mapping[str, str]) -> None:
        self.config = config
        self.sandboxes: dict[str, ChannelSandbox] = {
            name: load_sandbox(name, config, classes) for name in classes
        }

    def credentials(self, name: str) -> dict[str, Any]:
        return self.sandboxes[name].credentials()

    async def start(self) -> None:
        for sandbox in self.sandboxes.values():
            await sandbox.start()

    async def stop(self) -> None:
        for sandbox in self.sandboxes.values():
            await sandbox.stop()

    def asgi(self, *, manage_lifespan: bool = False) -> Starlette:
        async def index(_: Request) -> JSONResponse:
            return JSONResponse({"sandboxes": {n: f"{self.config.base_url}/{n}" for n in self.sandboxes}})

        @contextlib.asynccontextmanager
        async def lifespan(_: Starlette) -> AsyncIterator[None]:
            if manage_lifespan:
                await self.start()
            try:
                yield
            finally:
                if manage_lifespan:
                    await self.stop()

        routes: list[Any] = [Route("/", index)]
        routes += [Mount(f"/{name}", app=sb.app) for name, sb in self.sandboxes.items()]
        return Starlette(routes=routes, lifespan=lifespan)
