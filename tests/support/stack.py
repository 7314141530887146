"""The whole of paygate on real loopback ports: internal API, public listener, sandboxes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paygate.api.internal import create_internal_app
from paygate.api.public import create_public_app
from paygate.bootstrap import Container, build_container
from paygate.config import Settings
from paygate.demo import connect_sandboxes, demo_credentials, sandbox_host, seed_demo
from paygate.sandbox.app import SandboxHost
from paygate.sdk import PaygateClient
from paygate.server import stop_services
from tests.support.servers import free_port, serve_asgi


@dataclass
class Stack:
    settings: Settings
    container: Container
    sandboxes: SandboxHost
    client: PaygateClient
    credentials: dict[str, Any]

    @property
    def internal_url(self) -> str:
        return self.settings.internal_base_url

    @property
    def public_url(self) -> str:
        return self.settings.public_base_url

    @property
    def sandbox_url(self) -> str:
        return self.settings.sandbox_base_url

    def sandbox(self, name: str) -> Any:
        return self.sandboxes.sandboxes[name]


def stack_settings(db_url: str, data_dir: Path, **overrides: Any) -> Settings:
    from tests.conftest import MASTER_KEY

    internal, public, sandbox = free_port(), free_port(), free_port()
    values: dict[str, Any] = {
        "database_url": db_url,
        "data_dir": data_dir,
        "master_key": MASTER_KEY,
        "internal_port": internal,
        "public_port": public,
        "public_base_url": f"http://127.0.0.1:{public}",
        "sandbox_port": sandbox,
        "sandbox_time_scale": 0.0005,
        "query_cache_seconds": 0,
        "channel_timeout_seconds": 3.0,
    }
    values.update(overrides)
    return Settings(**values)


@contextlib.asynccontextmanager
async def running_stack(settings: Settings, container: Container | None = None) -> AsyncIterator[Stack]:
    """Everything on loopback; ``container`` when a test built (and adjusted) its own."""
    container = container or build_container(settings)
    host = sandbox_host(settings)
    await container.start()
    await host.start()
    try:
        async with (
            serve_asgi(host.asgi(), settings.sandbox_port),
            serve_asgi(create_internal_app(container.internal_services()), settings.internal_port),
            serve_asgi(create_public_app(container.public_services()), settings.public_port),
        ):
            await seed_demo(container, host)
            await connect_sandboxes(container, host)
            creds = await demo_credentials(container)
            client = PaygateClient(creds["api_base"], creds["app_id"], secret=creds["secret"])
            try:
                yield Stack(settings, container, host, client, creds)
            finally:
                await client.aclose()
    finally:
        await stop_services(container, host)  # bounded, as in `paygate run`
