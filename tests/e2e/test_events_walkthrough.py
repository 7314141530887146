"""What a person sees of notifications after ``make run``: ``paygate run`` delivers each final
state to the demo app's receiver (which verifies it with the ``standardwebhooks`` package and
prints it), and the ``paygate events`` / ``app rotate-webhook-secret`` commands inspect and
re-send — bad input refused with a stable code and exit status 2."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.test_cli_walkthrough import PAYGATE, run, run_json, wait_state
from tests.e2e.test_cli_walkthrough import env as env  # the fixture (free ports, a temp data dir)


@pytest.fixture
def logged_server(env: dict[str, str], tmp_path: Path) -> Iterator[Path]:
    run(env, "migrate")
    run(env, "demo", "seed")
    log = tmp_path / "run.log"
    with log.open("w") as out:
        proc = subprocess.Popen([PAYGATE, "run"], env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{env['PAYGATE_INTERNAL_PORT']}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/health", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise AssertionError(f"paygate run did not start: {log.read_text()}")
        yield log
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=30)


def eventually_json(env: dict[str, str], args: list[str], ok: Any, tries: int = 100) -> Any:
    for _ in range(tries):
        answer = run_json(env, *args)
        if ok(answer):
            return answer
        time.sleep(0.1)
    raise AssertionError(f"{args}: {answer}")


def refused(env: dict[str, str], *args: str) -> str:
    result = run(env, *args, check=False)
    assert result.returncode == 2, (args, result.stdout, result.stderr)
    return result.stderr


def test_the_demo_receiver_gets_each_final_state_and_events_can_be_resent(
    env: dict[str, str], logged_server: Path
) -> None:
    creds = run_json(env, "demo", "credentials")
    assert creds["webhook_secret"].startswith("whsec_")
    assert creds["notify_url"] == f"http://127.0.0.1:{env['PAYGATE_DEMO_RECEIVER_PORT']}/webhooks"

    trade = run_json(env, "demo", "pay", "--pay-type", "alipay.qr", "--amount", "1999")
    run(env, "sandbox", "pay", "alipay", trade["action"]["qr_code"])
    wait_state(env, trade["trade_no"], "succeeded")

    listed = eventually_json(
        env,
        ["events", "list", "--trade", trade["trade_no"]],
        lambda page: page["items"] and page["items"][0]["delivery"] == "succeeded",
    )
    [event] = listed["items"]
    assert event["type"] == "trade.succeeded" and event["app_id"] == "demo"
    line = f"receiver: verified trade.succeeded {event['event_id']} {trade['trade_no']} state=succeeded"
    assert line in logged_server.read_text()

    shown = run_json(env, "events", "show", event["event_id"])
    assert shown["body"]["data"]["paid_amount"] == 1999
    [attempt] = shown["deliveries"][0]["attempt_log"]
    assert attempt["http_status"] == 204 and attempt["outcome"] == "acknowledged"

    resent = run_json(env, "events", "resend", event["event_id"], "--as", "alice")
    assert resent["resend"] == "queued"
    eventually_json(
        env,
        ["events", "show", event["event_id"]],
        lambda e: [d["state"] for d in e["deliveries"]] == ["succeeded", "succeeded"],
    )
    receipts = [ln for ln in logged_server.read_text().splitlines() if event["event_id"] in ln]
    assert len(receipts) == 2  # the same event id twice: the app de-duplicates

    rotated = run_json(env, "app", "rotate-webhook-secret", "demo", "--grace-hours", "1")
    assert rotated["webhook_secret"] != creds["webhook_secret"]
    assert run_json(env, "demo", "credentials")["webhook_secret"] == rotated["webhook_secret"]
    closed = run_json(env, "demo", "pay", "--pay-type", "alipay.page", "--amount", "500")
    run(env, "sandbox", "pay", "alipay", closed["action"]["url"], "--cancel")
    wait_state(env, closed["trade_no"], "closed")
    eventually_json(
        env,
        ["events", "list", "--trade", closed["trade_no"]],
        lambda page: page["items"] and page["items"][0]["delivery"] == "succeeded",
    )


def test_bad_input_to_the_event_commands_is_refused_with_a_code(env: dict[str, str]) -> None:
    run(env, "migrate")
    run(env, "demo", "seed")
    assert "refused (INVALID_EVENT_ID)" in refused(env, "events", "show", "nope")
    assert "refused (EVENT_NOT_FOUND)" in refused(env, "events", "resend", "evt_00000000000000000000000000")
    assert "refused (INVALID_REQUEST)" in refused(env, "events", "list", "--delivery", "lost")
    assert "refused (INVALID_REQUEST)" in refused(env, "events", "list", "--limit", "0")
    assert "refused (UNKNOWN_APP)" in refused(env, "app", "rotate-webhook-secret", "nosuchapp")
    assert "refused (INVALID_REQUEST)" in refused(
        env, "app", "rotate-webhook-secret", "demo", "--grace-hours", "9999"
    )
    assert "refused (UNKNOWN_JOB)" in refused(env, "worker", "--jobs", "deliveries,nope")
    assert json.loads(run(env, "events", "list").stdout)["items"] == []
