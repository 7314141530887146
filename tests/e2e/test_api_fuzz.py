"""R-API-7: schemathesis generates requests from paygate's own OpenAPI document; every
signed request, valid or not, gets a well-formed envelope and never a 5xx."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from paygate.kit import signing
from tests.e2e.test_cli_walkthrough import PAYGATE, run, run_json
from tests.e2e.test_cli_walkthrough import env as env


@pytest.fixture
def live(env: dict[str, str]) -> Iterator[dict[str, Any]]:
    run(env, "migrate")
    run(env, "demo", "seed")
    proc = subprocess.Popen([PAYGATE, "run"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    creds = run_json(env, "demo", "credentials")
    base = creds["api_base"]
    for _ in range(200):
        try:
            if httpx.get(f"{base}/health", timeout=0.5).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    try:
        yield creds
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def check(case: Any, live: dict[str, Any]) -> None:
    if case.body is None:
        body = b""
    elif isinstance(case.body, bytes):
        body = case.body
    else:
        body = json.dumps(case.body, default=lambda o: o.decode("latin-1")).encode()
    ts, nonce = str(int(time.time())), f"fuzz{time.time_ns()}"
    message = signing.request_message("POST", case.formatted_path, ts, nonce, body)
    headers = {
        "Content-Type": "application/json",
        signing.HEADER_APP_ID: live["app_id"],
        signing.HEADER_TIMESTAMP: ts,
        signing.HEADER_NONCE: nonce,
        signing.HEADER_SIGNATURE: signing.sign_hmac(live["secret"], message),
    }
    response = httpx.post(live["api_base"] + case.formatted_path, content=body, headers=headers, timeout=30)
    envelope = response.json()
    assert response.status_code < 500 or envelope["error"] in {
        "CHANNEL_UNAVAILABLE",
        "CHANNEL_TIMEOUT",
        "CIRCUIT_OPEN",
        "NO_CHANNEL_ACCOUNT",
    }, response.text
    assert isinstance(envelope["errno"], int) and isinstance(envelope["msg"], str)
    if envelope["errno"] != 0:
        assert envelope["error"].isupper() and 400 <= response.status_code
    assert "Traceback" not in response.text and live["secret"] not in response.text


def test_signed_generated_requests_never_fail_the_server(live: dict[str, Any]) -> None:
    schema = schemathesis.openapi.from_url(f"{live['api_base']}/openapi.json")
    operations = [r.ok() for r in schema.get_all_operations()]
    # the app API; the operator API (/operator/…, HTTP Basic, not signed) is not an app's
    posts = [op for op in operations if op.method.upper() == "POST" and not op.path.startswith("/operator/")]
    assert {op.path for op in posts} == {"/gopay", "/query/trade", "/close"}
    for op in posts:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=op.as_strategy(generation_mode=mode))
            @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
            def fuzz(case: Any) -> None:
                check(case, live)

            fuzz()
