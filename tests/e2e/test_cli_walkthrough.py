"""What a person does after ``make run``, as they would do it: the real ``paygate`` command
in subprocesses, one ``paygate run`` process serving the API, callbacks and sandboxes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.servers import free_port, release_port

PAYGATE = str(Path(sys.executable).parent / "paygate")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    # `paygate run` (a subprocess) binds these itself
    internal, public, sandbox, receiver = (release_port(free_port()) for _ in range(4))
    return {
        **os.environ,
        "PAYGATE_DATA_DIR": str(tmp_path / "var"),
        "PAYGATE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/var/paygate.db",
        "PAYGATE_INTERNAL_PORT": str(internal),
        "PAYGATE_PUBLIC_PORT": str(public),
        "PAYGATE_PUBLIC_BASE_URL": f"http://127.0.0.1:{public}",
        "PAYGATE_SANDBOX_PORT": str(sandbox),
        "PAYGATE_DEMO_RECEIVER_PORT": str(receiver),
        "PAYGATE_SANDBOX_TIME_SCALE": "0.001",
        "PAYGATE_QUERY_CACHE_SECONDS": "0",
    }


def run(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([PAYGATE, *args], env=env, capture_output=True, text=True, timeout=60)
    if check and done.returncode:  # say what the command said, not only that it failed
        raise AssertionError(
            f"paygate {' '.join(args)} exited {done.returncode}\nstdout: {done.stdout[-2000:]}\n"
            f"stderr: {done.stderr[-4000:]}"
        )
    return done


def run_json(env: dict[str, str], *args: str) -> Any:
    out = run(env, *args).stdout.strip().splitlines()[-1]
    return json.loads(out)


def start_paygate(env: dict[str, str]) -> subprocess.Popen[str]:
    """Migrate, seed and start ``paygate run``; returns once /health answers."""
    run(env, "migrate")
    run(env, "demo", "seed")
    proc = subprocess.Popen(
        [PAYGATE, "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    base = f"http://127.0.0.1:{env['PAYGATE_INTERNAL_PORT']}"
    for _ in range(200):
        try:
            if httpx.get(f"{base}/health", timeout=0.5).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        proc.kill()
        raise AssertionError(f"paygate run did not start: {proc.stdout.read() if proc.stdout else ''}")
    return proc


@pytest.fixture
def server(env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    proc = start_paygate(env)
    yield proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)


def wait_state(env: dict[str, str], trade_no: str, state: str) -> dict[str, Any]:
    for _ in range(100):
        trade: dict[str, Any] = run_json(env, "demo", "query", trade_no)
        if trade["state"] == state:
            return trade
        time.sleep(0.1)
    raise AssertionError(f"{trade_no} never reached {state}: {trade}")


def test_walk_a_payment_end_to_end_with_the_cli(env: dict[str, str], server: subprocess.Popen[str]) -> None:
    creds = run_json(env, "demo", "credentials")
    assert set(creds) >= {"app_id", "secret", "api_base"}
    assert creds["api_base"] == f"http://127.0.0.1:{env['PAYGATE_INTERNAL_PORT']}"

    sandbox = run_json(env, "sandbox", "credentials", "alipay")
    assert sandbox["gateway_url"] == f"http://127.0.0.1:{env['PAYGATE_SANDBOX_PORT']}/alipay/gateway.do"
    assert "BEGIN RSA PRIVATE KEY" in sandbox["app_private_key"]
    assert "BEGIN PUBLIC KEY" in sandbox["alipay_public_key"]

    wechat = run_json(env, "sandbox", "credentials", "wechatpay")
    assert set(wechat) >= {
        "base_url",
        "mchid",
        "appid",
        "merchant_private_key",
        "merchant_serial_no",
        "apiv3_key",
        "platform_public_key",
        "platform_public_key_id",
    }
    assert "BEGIN PRIVATE KEY" in wechat["merchant_private_key"] and len(wechat["apiv3_key"]) == 32
    stripe = run_json(env, "sandbox", "credentials", "stripe")
    assert stripe["api_base"].endswith("/stripe") and stripe["secret_key"].startswith("sk_test_")
    assert stripe["webhook_secret"].startswith("whsec_")

    trade = run_json(env, "demo", "pay", "--pay-type", "alipay.qr", "--amount", "1999")
    assert trade["state"] == "pending" and trade["action"]["type"] == "qr_code"
    run(env, "sandbox", "pay", "alipay", trade["action"]["qr_code"])
    paid = wait_state(env, trade["trade_no"], "succeeded")
    assert paid["paid_amount"] == 1999

    page = run_json(env, "demo", "pay", "--pay-type", "alipay.page", "--amount", "500")
    run(env, "sandbox", "pay", "alipay", page["action"]["url"], "--cancel")
    wait_state(env, page["trade_no"], "closed")

    # the same flow after a restart: nothing is lost, credentials unchanged
    server.send_signal(signal.SIGINT)
    assert server.wait(timeout=20) == 0
    assert run_json(env, "demo", "credentials") == creds
    assert run_json(env, "sandbox", "credentials", "alipay") == sandbox


@pytest.mark.parametrize(
    ("args", "target"),
    [
        (["--pay-type", "wechat.native"], "qr_code"),
        (["--pay-type", "wechat.jsapi", "--openid", "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"], "out_trade_no"),
        (["--pay-type", "wechat.h5", "--client-ip", "203.0.113.9"], "url"),
        (["--pay-type", "wechat.app"], "out_trade_no"),
        (
            [
                "--pay-type",
                "stripe.card",
                "--currency",
                "USD",
                "--payment-method",
                "pm_card_authenticationRequired",
            ],
            "url",
        ),
    ],
)
def test_wechat_and_stripe_end_to_end_with_the_cli(
    env: dict[str, str], server: subprocess.Popen[str], args: list[str], target: str
) -> None:
    """Issue 3: each new pay type, paid by the buyer in its sandbox, reaches succeeded."""
    trade = run_json(env, "demo", "pay", *args, "--amount", "1200")
    assert trade["state"] == "pending", trade
    channel = "stripe" if "stripe.card" in args else "wechatpay"
    if target == "out_trade_no":
        ref = trade["channel_trade_no"] or ""
        # the order number the channel knows is paygate's attempt number: ask the sandbox by
        # the prepay id it issued (JSAPI/app parameters carry it)
        params = trade["action"]["params"]
        ref = params.get("prepayid") or params["package"].removeprefix("prepay_id=")
    else:
        ref = trade["action"].get(target) or trade["action"].get("url")
    paid = run(env, "sandbox", "pay", channel, ref, check=False)
    assert paid.returncode == 0, (trade, paid.stdout, paid.stderr)
    wait_state(env, trade["trade_no"], "succeeded")


def test_sandbox_pay_explains_what_it_cannot_find(env: dict[str, str], server: subprocess.Popen[str]) -> None:
    result = run(env, "sandbox", "pay", "alipay", "NO-SUCH-TRADE", check=False)
    assert result.returncode == 1
    assert "NO-SUCH-TRADE" in result.stdout  # the sandbox names what it could not find


def test_operators_add_and_list_channel_accounts_without_seeing_secrets(
    env: dict[str, str], tmp_path: Path
) -> None:
    run(env, "migrate")
    key = tmp_path / "app_private_key.pem"
    key.write_text(
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEAsecretmaterial\n-----END RSA PRIVATE KEY-----\n"
    )
    added = run_json(
        env,
        "account",
        "add",
        "alipay",
        "--name",
        "shop-alipay",
        "--merchant-id",
        "2021000000000042",
        "--gateway-url",
        "https://openapi.alipay.com/gateway.do",
        "--secret",
        f"app_private_key=@{key}",
        "--secret",
        "alipay_public_key=MIIBIjANBgkq",
        "--param",
        "seller_id=2088000000000042",
    )
    assert added["secrets"] == ["alipay_public_key", "app_private_key"]
    assert added["notify_url"].endswith(f"/notify/alipay/{added['id']}")
    listed = run_json(env, "account", "list")
    assert [a["merchant_id"] for a in listed] == ["2021000000000042"]
    assert listed[0]["params"] == {"seller_id": "2088000000000042"}
    assert "secretmaterial" not in json.dumps(listed) and "MIIBIjANBgkq" not in json.dumps(listed)
    bad = run(
        env,
        "account",
        "add",
        "alipay",
        "--name",
        "x",
        "--merchant-id",
        "1",
        "--gateway-url",
        "u",
        "--secret",
        "no-equals-sign",
        check=False,
    )
    assert bad.returncode == 2


def test_an_account_states_its_fee_terms(env: dict[str, str]) -> None:
    """Issue 9 (R-REC-2): a rate plus a fixed fee in the account's settlement currency (Stripe's
    2.9 % + 30¢); a fixed fee without its currency is refused, nothing stored."""
    run(env, "migrate")
    common = [
        "account",
        "add",
        "stripe",
        "--merchant-id",
        "acct_1",
        "--gateway-url",
        "https://api.stripe.com",
    ]
    common += ["--secret", "secret_key=sk_test_1", "--secret", "webhook_secret=whsec_1"]
    refused = run(env, *common, "--name", "bad", "--fee-fixed", "30", check=False)
    assert refused.returncode == 2 and "a fixed fee needs its currency" in refused.stderr
    run_json(
        env, *common, "--name", "usd", "--fee-rate-bp", "290", "--fee-fixed", "30", "--fee-currency", "usd"
    )
    [listed] = run_json(env, "account", "list")
    assert (listed["name"], listed["fee_rate_bp"], listed["fee_fixed"], listed["fee_currency"]) == (
        "usd",
        290,
        30,
        "USD",
    )


def test_an_account_with_a_missing_or_misspelt_secret_is_refused_at_once(env: dict[str, str]) -> None:
    """Issue 6 item 4: the adapter's account spec is checked when the account is added."""
    run(env, "migrate")
    common = ["account", "add", "alipay", "--name", "typo", "--merchant-id", "2021000000000043"]
    typo = run(
        env,
        *common,
        "--gateway-url",
        "https://openapi.alipay.com/gateway.do",
        "--secret",
        "app_private_key=MIIEkey",
        "--secret",
        "alipay_pub_key=MIIBkey",
        check=False,
    )
    assert typo.returncode == 2
    assert "missing secret 'alipay_public_key'" in typo.stderr
    assert "unknown secret 'alipay_pub_key' (did you mean 'alipay_public_key'?)" in typo.stderr
    assert "Traceback" not in typo.stderr
    assert run_json(env, "account", "list") == []  # nothing was stored


def test_operators_are_added_listed_and_disabled_from_the_cli(env: dict[str, str], tmp_path: Path) -> None:
    run(env, "migrate")
    secret = tmp_path / "pw"
    secret.write_text("a long enough password\n")
    added = run_json(env, "operator", "add", "alice", "--role", "approver", "--password-file", str(secret))
    assert added == {"name": "alice", "role": "approver"}
    again = run(
        env, "operator", "add", "alice", "--role", "viewer", "--password-file", str(secret), check=False
    )
    assert again.returncode == 2 and "exists" in again.stderr
    weak = subprocess.run(
        [PAYGATE, "operator", "add", "bob", "--role", "viewer"],
        env={**env, "PAYGATE_OPERATOR_PASSWORD": "short"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert weak.returncode == 2 and "at least 12" in weak.stderr
    assert run_json(env, "operator", "disable", "alice") == {"name": "alice", "enabled": False}
    [listed] = run_json(env, "operator", "list")
    assert listed["name"] == "alice" and listed["role"] == "approver" and listed["enabled"] is False
    assert "password" not in json.dumps(listed) and "argon2" not in json.dumps(listed)


def test_refunds_and_their_approval_from_the_cli(env: dict[str, str], tmp_path: Path) -> None:
    """Issue 7: the README's refund step, and an approver deciding a held refund (four eyes)."""
    env = {**env, "PAYGATE_REFUND_APPROVAL_RULES": '[{"app_id": "*", "above": 1000}]'}
    run(env, "migrate")
    run(env, "demo", "seed")
    for name in ("alice", "bob"):
        pw = tmp_path / f"{name}.pw"
        pw.write_text(f"{name}'s long password\n")
        run(env, "operator", "add", name, "--role", "approver", "--password-file", str(pw))
    proc = subprocess.Popen(
        [PAYGATE, "run"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        base = f"http://127.0.0.1:{env['PAYGATE_INTERNAL_PORT']}"
        for _ in range(200):
            try:
                if httpx.get(f"{base}/health", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        trade = run_json(env, "demo", "pay", "--pay-type", "alipay.qr", "--amount", "1999")
        run(env, "sandbox", "pay", "alipay", trade["action"]["qr_code"])
        wait_state(env, trade["trade_no"], "succeeded")
        small = run_json(env, "demo", "refund", trade["trade_no"], "--amount", "500", "--reason", "one item")
        assert small["state"] == "succeeded" and small["amount"] == 500
        assert run_json(env, "demo", "query-refund", small["refund_no"])["state"] == "succeeded"
        big = run_json(env, "demo", "refund", trade["trade_no"], "--amount", "1499")
        assert big["state"] == "pending_approval"
        [queued] = run_json(env, "refund", "list", "--state", "pending_approval")
        assert queued["refund_no"] == big["refund_no"]
        bad = run(
            env,
            "refund",
            "approve",
            big["refund_no"],
            "--reason",
            "ok",
            "--operator",
            "alice",
            "--password-file",
            str(tmp_path / "bob.pw"),
            check=False,
        )
        assert bad.returncode == 2 and "OPERATOR_AUTH" in bad.stderr
        approved = run_json(
            env,
            "refund",
            "approve",
            big["refund_no"],
            "--reason",
            "receipt seen",
            "--operator",
            "alice",
            "--password-file",
            str(tmp_path / "alice.pw"),
        )
        assert approved["state"] == "succeeded" and approved["decided_by"] == "operator:alice"
        assert run_json(env, "demo", "query", trade["trade_no"])["refund_status"] == "fully_refunded"
        assert run(env, "refund", "list", "--state", "nonsense", check=False).returncode == 2
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
