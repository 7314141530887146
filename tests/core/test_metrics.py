"""Metrics and alert rules (R-OPS-1): ``/metrics`` on the internal listener has request
latency histograms, trade outcomes per channel and pay type, the notification backlog and dead
letters, the breakers' states; the sample rules file is valid and names only metrics paygate
exports."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
import yaml

from paygate.kit import metrics
from tests.support.helpers import buyer, eventually, order_no
from tests.support.stack import Stack

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "paygate-rules.yml"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_metrics_show_outcomes_backlog_and_breakers(stack: Stack) -> None:
    trade = await stack.client.pay(
        out_order_no=order_no("M"), pay_type="wechat.native", amount=300, subject="Tea"
    )
    await buyer(stack, "wechatpay", trade["action"]["qr_code"])

    async def scraped() -> str | None:
        async with httpx.AsyncClient() as http:
            text = (await http.get(f"{stack.internal_url}/metrics")).text
        outcome = (
            'paygate_trade_outcomes_total{channel="wechatpay",pay_type="wechat.native",state="succeeded"}'
        )
        return text if outcome in text else None

    text = await eventually(scraped)
    assert re.search(r'paygate_api_latency_seconds_bucket\{endpoint="/gopay",le="0.5"\} [1-9]', text)
    assert re.search(r"^paygate_event_dead_letters 0", text, re.M)
    assert 'paygate_channel_breaker_state{breaker="wechatpay:' in text


def test_alert_rules_are_valid_and_name_real_metrics() -> None:
    rules = yaml.safe_load(RULES.read_text())
    # prometheus-client keeps a counter's name without its _total suffix
    known = {m._name for m in vars(metrics).values() if hasattr(m, "_name")}
    names: set[str] = set()
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert rule["alert"].startswith("Paygate") and rule["annotations"]["summary"]
            names |= set(re.findall(r"\b(paygate_[a-z_]+?)(?:_bucket|_total)?\b", rule["expr"]))
    assert names and names <= known, names - known
    if shutil.which("promtool"):
        done = subprocess.run(["promtool", "check", "rules", str(RULES)], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
