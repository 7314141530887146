"""A tiny scripted Alipay gateway for client tests: it checks each request's signature with
the test-side reference code and answers whatever the test tells it to."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.adapters.alipay.support import Keys, ref_request_string, ref_verify, signed_body

Answer = Callable[[dict[str, str]], tuple[int, str]]


@dataclass
class FakeGateway:
    keys: Keys
    answer: Answer | None = None
    delay: float = 0.0
    requests: list[dict[str, str]] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    body_keys: list[str] = field(default_factory=list)

    def reply(self, obj: dict[str, Any]) -> None:
        """Answer every call with ``obj``, signed as Alipay signs."""
        self.answer = lambda params: (200, signed_body(self.keys.alipay, params["method"], obj))

    def raw(self, body: str, status: int = 200) -> None:
        self.answer = lambda params: (status, body)

    async def _gateway(self, request: Request) -> Response:
        form = await request.form()
        params = dict(request.query_params)  # query and body merged, as the spec says
        params.update({k: str(v) for k, v in form.items()})
        self.body_keys = list(form.keys())
        self.requests.append(params)
        if self.delay:
            await asyncio.sleep(self.delay)
        sha1 = params.get("sign_type") == "RSA"
        if not ref_verify(self.keys.app, ref_request_string(params), params.get("sign", ""), sha1):
            obj = {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-signature"}
            # "error" + "_response": the member Alipay uses for gateway-level refusals.
            body = signed_body(self.keys.alipay, "error", obj)
            return Response(body, media_type="application/json")
        assert self.answer is not None
        status, body = self.answer(params)
        return Response(body, status_code=status, media_type="application/json;charset=utf-8")

    async def _file(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in self.files:
            return Response("gone", status_code=404)
        return Response(self.files[name], media_type="application/zip")

    @property
    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/gateway.do", self._gateway, methods=["POST"]),
                Route("/bills/{name}", self._file, methods=["GET"]),
            ]
        )
