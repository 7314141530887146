"""Real ``paygate worker`` processes for the scale-out and crash tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from tests.conftest import MASTER_KEY

BIN = Path(sys.executable).parent


def worker_env(db_url: str, data_dir: Path, **settings: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYGATE_")}
    values: dict[str, Any] = {
        "database_url": db_url,
        "master_key": MASTER_KEY,
        "data_dir": str(data_dir),
        "sandbox_enabled": "false",
        "event_poll_seconds": "0.05",
        "event_timeout_seconds": "2",
        "event_lease_margin_seconds": "1",
        "event_retry_schedule": "[0, 0.05, 0.05, 0.05]",
        "event_retry_jitter": "0",
        "log_level": "INFO",
    }
    values.update(settings)
    for name, value in values.items():
        env[f"PAYGATE_{name.upper()}"] = value if isinstance(value, str) else json.dumps(value)
    return env


class Worker:
    def __init__(self, process: asyncio.subprocess.Process, log: Path) -> None:
        self.process = process
        self.log = log

    async def kill(self) -> int:
        self.process.send_signal(signal.SIGKILL)
        return await asyncio.wait_for(self.process.wait(), 10)

    async def stop(self) -> int:
        """SIGTERM: a worker stops within its bounded grace."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), 20)

    async def exited(self, within: float = 30) -> int:
        return await asyncio.wait_for(self.process.wait(), within)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


async def start_worker(env: dict[str, str], log: Path, jobs: str = "deliveries") -> Worker:
    handle = log.open("ab")
    process = await asyncio.create_subprocess_exec(
        str(BIN / "paygate"),
        "worker",
        "--jobs",
        jobs,
        env=env,
        stdout=handle,
        stderr=asyncio.subprocess.STDOUT,
    )
    handle.close()
    return Worker(process, log)


@contextlib.asynccontextmanager
async def workers(env: dict[str, str], logs: Path, n: int) -> AsyncIterator[list[Worker]]:
    started = [await start_worker(env, logs / f"worker{i}.log") for i in range(n)]
    try:
        yield started
    finally:
        for w in started:
            if w.process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    w.process.kill()
                await w.process.wait()
