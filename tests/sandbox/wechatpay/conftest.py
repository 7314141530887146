"""Fixtures: a WeChat Pay sandbox served over real HTTP under ``/wechatpay``, a
notification receiver, and the ``wechatpayv3`` SDK pointed at the sandbox.

One uvicorn server (the *stage*) runs in the session's event loop and every test puts a
fresh sandbox on it, so this folder's async tests run in the session loop (see
``pytest_collection_modifyitems``). An async fixture added here must say
``@pytest_asyncio.fixture(loop_scope="session")``: in another loop it would wait forever
for a server whose loop is not running."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send
from wechatpayv3 import WeChatPay, WeChatPayType

from paygate.sandbox.base import SandboxConfig
from paygate.sandbox.wechatpay import WechatPaySandbox
from tests.support.servers import free_port, serve_asgi

from .wxclient import WxClient

FAST = 0.001  # time_scale: a 15 s retry becomes 15 ms


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    """A merchant's notify endpoint: records every POST, answers ``statuses`` in turn
    (then ``default``)."""

    url: str = ""
    calls: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    default: int = 200
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: Request) -> Response:
        body = await request.body()
        self.calls.append(Received(dict(request.headers), body, asyncio.get_running_loop().time()))
        self.arrived.set()
        status = self.statuses.pop(0) if self.statuses else self.default
        if status in (200, 204):
            return Response(status_code=status)
        return Response(b'{"code":"FAIL","message":"failed"}', status, media_type="application/json")

    async def wait_for(self, count: int, within: float = 5.0) -> list[Received]:
        async with asyncio.timeout(within):
            while len(self.calls) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.calls


@dataclass
class Env:
    sandbox: WechatPaySandbox
    creds: dict[str, Any]
    http: httpx.AsyncClient
    root: str  # http://127.0.0.1:PORT
    receiver: Receiver

    @property
    def base_url(self) -> str:
        return self.creds["base_url"]

    def client(self, creds: dict[str, Any] | None = None, *, public_key_mode: bool = True) -> WxClient:
        return WxClient(self.base_url, creds or self.creds, self.http, public_key_mode)


class Stage:
    """One loopback server for the whole session; each test puts its own sandbox and
    receiver on it (a uvicorn start and stop per test would dominate the run time)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.app: ASGIApp | None = None

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.app is None:
            await Response(b"no sandbox on stage", 503)(scope, receive, send)
            return
        await self.app(scope, receive, send)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def stage() -> AsyncIterator[Stage]:
    stage = Stage(free_port())
    async with serve_asgi(stage, port=stage.port):
        yield stage


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run this folder's async tests in the session loop, where the stage's server runs."""
    here = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(here) and item.get_closest_marker("asyncio") is not None:
            item.add_marker(pytest.mark.asyncio(loop_scope="session"), append=False)


@contextlib.asynccontextmanager
async def running_sandbox(
    stage: Stage,
    data_dir: Path,
    time_scale: float = FAST,
    http: httpx.AsyncClient | None = None,
    *,
    start: bool = True,
) -> AsyncIterator[Env]:
    """A fresh sandbox (own trades, faults, notifier) served on ``stage`` at /wechatpay,
    with a merchant receiver at /merchant/notify."""
    config = SandboxConfig(base_url=stage.root, data_dir=data_dir, time_scale=time_scale)
    sandbox = WechatPaySandbox(config, http=http)
    receiver = Receiver(url=f"{stage.root}/merchant/notify")
    stage.app = Starlette(
        routes=[
            Mount("/wechatpay", app=sandbox.app),
            Route("/merchant/notify", receiver.handle, methods=["POST"]),
        ]
    )
    try:
        async with httpx.AsyncClient(timeout=10) as client:
            if start:
                await sandbox.start()
            try:
                yield Env(sandbox, sandbox.credentials(), client, stage.root, receiver)
            finally:
                await sandbox.stop()
    finally:
        stage.app = None


@pytest.fixture(scope="session")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Keys are generated once per session; each test still gets a fresh sandbox."""
    return tmp_path_factory.mktemp("wechatpay-keys")


@pytest_asyncio.fixture(loop_scope="session")
async def env(stage: Stage, key_dir: Path) -> AsyncIterator[Env]:
    async with running_sandbox(stage, key_dir) as e:
        yield e


@pytest.fixture
def receiver(env: Env) -> Receiver:
    """The merchant's notify endpoint, served beside the sandbox."""
    return env.receiver


def dummy_certificate_pem() -> str:
    """A valid certificate that is not the platform's, so that the SDK in certificate
    mode starts without calling the real host and must fetch ``/v3/certificates`` from
    the sandbox in the middle of its first request."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "not the platform")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="session")
def dummy_cert() -> str:
    return dummy_certificate_pem()


SdkFactory = Callable[..., WeChatPay]


@pytest.fixture
def make_sdk(tmp_path: Path, dummy_cert: str) -> SdkFactory:
    def make(
        creds: dict[str, Any],
        mode: str = "public_key",
        *,
        notify_url: str = "http://127.0.0.1:9/wechat/notify",
        pay_type: WeChatPayType = WeChatPayType.NATIVE,
    ) -> WeChatPay:
        common: dict[str, Any] = dict(
            wechatpay_type=pay_type,
            mchid=creds["mchid"],
            private_key=creds["merchant_private_key"],
            cert_serial_no=creds["merchant_serial_no"],
            appid=creds["appid"],
            apiv3_key=creds["apiv3_key"],
            notify_url=notify_url,
            timeout=(5, 10),
        )
        if mode == "public_key":
            wx = WeChatPay(
                **common,
                public_key=creds["platform_public_key"],
                public_key_id=creds["platform_public_key_id"],
            )
        else:
            cert_dir = tmp_path / f"certs-{creds['mchid']}"
            cert_dir.mkdir(exist_ok=True)
            (cert_dir / "dummy.pem").write_text(dummy_cert)
            wx = WeChatPay(**common, cert_dir=str(cert_dir))
        wx._core._gate_way = creds["base_url"]
        return wx

    return make


async def sdk(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """The SDK is synchronous: run it off the event loop that serves the sandbox."""
    return await asyncio.to_thread(fn, *args, **kwargs)
