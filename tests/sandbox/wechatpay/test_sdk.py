"""The public ``wechatpayv3`` SDK, unchanged, against the sandbox over real HTTP, in
public-key mode and in certificate mode (the certificate fetched from the sandbox's
``/v3/certificates`` in the middle of the first request)."""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import hashlib
import json
from pathlib import Path

import pytest
from wechatpayv3 import WeChatPayType

from .conftest import Env, Receiver, SdkFactory, sdk
from .wxclient import certificate_serial

MODES = ["public_key", "certificate"]
PAY_TYPES = {
    "native": WeChatPayType.NATIVE,
    "jsapi": WeChatPayType.JSAPI,
    "app": WeChatPayType.APP,
    "h5": WeChatPayType.H5,
}


def _today() -> str:
    return dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date().isoformat()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", list(PAY_TYPES))
async def test_pay_in_every_form(env: Env, make_sdk: SdkFactory, mode: str, kind: str) -> None:
    wx = make_sdk(env.creds, mode, pay_type=PAY_TYPES[kind])
    extra: dict[str, object] = {}
    if kind == "jsapi":
        extra["payer"] = {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}
    if kind == "h5":
        extra["scene_info"] = {"payer_client_ip": "1.2.3.4", "h5_info": {"type": "Wap"}}
    code, text = await sdk(
        wx.pay, description="测试商品", out_trade_no=f"PAY-{kind}-{mode}"[:32],
        amount={"total": 1, "currency": "CNY"}, **extra,
    )  # fmt: skip
    assert code == 200, text
    answer = json.loads(text)
    if kind == "native":
        assert answer["code_url"].startswith(env.base_url + "/")
        page = await env.http.get(answer["code_url"])
        assert page.status_code == 200 and "Pay" in page.text and "¥0.01" in page.text
    elif kind == "h5":
        assert answer["h5_url"].startswith(env.base_url + "/")
        assert (await env.http.get(answer["h5_url"])).status_code == 200
    else:
        assert answer["prepay_id"].startswith("wx") and len(answer["prepay_id"]) == 36
        # The JSAPI/APP client parameters are signed by the merchant, not by WeChat.
        assert wx.sign([env.creds["appid"], "1700000000", "nonce", "prepay_id=" + answer["prepay_id"]])


@pytest.mark.parametrize("mode", MODES)
async def test_query_both_ways_and_close(env: Env, make_sdk: SdkFactory, mode: str) -> None:
    wx = make_sdk(env.creds, mode)
    assert (await sdk(wx.pay, description="d", out_trade_no="QUERY-0001", amount={"total": 250}))[0] == 200
    code, text = await sdk(wx.query, out_trade_no="QUERY-0001")
    assert code == 200 and json.loads(text)["trade_state"] == "NOTPAY"

    env.sandbox.pay("QUERY-0001")
    code, text = await sdk(wx.query, out_trade_no="QUERY-0001")
    paid = json.loads(text)
    assert code == 200 and paid["trade_state"] == "SUCCESS" and paid["trade_state_desc"] == "支付成功"
    assert paid["transaction_id"].startswith("4200") and len(paid["transaction_id"]) == 28
    assert paid["success_time"].endswith("+08:00")
    assert paid["amount"] == {"total": 250, "payer_total": 250, "currency": "CNY", "payer_currency": "CNY"}
    assert paid["payer"]["openid"].startswith("o")
    code, text = await sdk(wx.query, transaction_id=paid["transaction_id"])
    assert code == 200 and json.loads(text) == paid

    assert (await sdk(wx.pay, description="d", out_trade_no="CLOSE-0001", amount={"total": 1}))[0] == 200
    code, text = await sdk(wx.close, out_trade_no="CLOSE-0001")
    assert code == 204 and not text
    assert json.loads((await sdk(wx.query, out_trade_no="CLOSE-0001"))[1])["trade_state"] == "CLOSED"
    code, text = await sdk(wx.close, out_trade_no="QUERY-0001")
    assert code == 400 and json.loads(text)["code"] == "ORDERPAID"


@pytest.mark.parametrize("mode", MODES)
async def test_refund_and_refund_query(env: Env, make_sdk: SdkFactory, mode: str) -> None:
    wx = make_sdk(env.creds, mode)
    await sdk(wx.pay, description="d", out_trade_no="REFUND-001", amount={"total": 300})
    env.sandbox.pay("REFUND-001")
    code, text = await sdk(
        wx.refund, out_refund_no="RF-001", amount={"refund": 100, "total": 300, "currency": "CNY"},
        out_trade_no="REFUND-001", reason="不想要了",
    )  # fmt: skip
    refund = json.loads(text)
    assert code == 200 and refund["status"] == "PROCESSING"
    assert refund["refund_id"].startswith("503") and refund["amount"]["refund"] == 100
    for _ in range(200):
        code, text = await sdk(wx.query_refund, out_refund_no="RF-001")
        if json.loads(text)["status"] == "SUCCESS":
            break
        await asyncio.sleep(0.01)
    queried = json.loads(text)
    assert code == 200 and queried["status"] == "SUCCESS" and queried["success_time"].endswith("+08:00")
    trade = json.loads((await sdk(wx.query, out_trade_no="REFUND-001"))[1])
    assert trade["trade_state"] == "REFUND"


@pytest.mark.parametrize("mode", MODES)
async def test_trade_bill_download_matches_its_hash(env: Env, make_sdk: SdkFactory, mode: str) -> None:
    wx = make_sdk(env.creds, mode)
    await sdk(wx.pay, description="账单商品", out_trade_no="BILL-0001", amount={"total": 1234})
    env.sandbox.pay("BILL-0001")
    day = _today()
    code, text = await sdk(wx.trade_bill, bill_date=day)
    assert code == 400 and json.loads(text)["code"] == "STATEMENT_CREATING"  # ready tomorrow 10:00
    env.sandbox.advance_clock(34 * 3600)
    code, text = await sdk(wx.trade_bill, bill_date=day)
    assert code == 200, text
    bill = json.loads(text)
    assert bill["hash_type"] == "SHA1" and bill["download_url"].startswith(env.base_url + "/")
    code, content = await sdk(wx.download_bill, bill["download_url"])
    assert code == 200 and isinstance(content, bytes)
    plain = gzip.decompress(content)
    assert hashlib.sha1(plain).hexdigest() == bill["hash_value"]
    lines = plain.decode("utf-8").splitlines()
    assert lines[0].startswith("交易时间,公众账号ID,商户号")
    assert any("`BILL-0001" in line and "`12.34" in line for line in lines)


@pytest.mark.parametrize("mode", MODES)
async def test_callback_decrypts_payment_and_refund_notifications(
    env: Env, make_sdk: SdkFactory, receiver: Receiver, mode: str
) -> None:
    wx = make_sdk(env.creds, mode, notify_url=receiver.url)
    await sdk(wx.pay, description="d", out_trade_no="NOTIFY-001", amount={"total": 50}, attach="a=1")
    env.sandbox.pay("NOTIFY-001")
    [payment] = await receiver.wait_for(1)
    result = await sdk(wx.callback, payment.headers, payment.body)
    assert result is not None, "the SDK refused the notification"
    assert result["event_type"] == "TRANSACTION.SUCCESS" and result["resource_type"] == "encrypt-resource"
    resource = result["resource"]
    assert resource["out_trade_no"] == "NOTIFY-001" and resource["trade_state"] == "SUCCESS"
    assert resource["attach"] == "a=1" and resource["amount"]["payer_total"] == 50
    expected_serial = (
        env.creds["platform_public_key_id"]
        if mode == "public_key"
        else env.creds["platform_certificate_serial"]
    )
    assert payment.headers["wechatpay-serial"] == expected_serial

    await sdk(
        wx.refund,
        out_refund_no="NOTIFY-RF1",
        amount={"refund": 50, "total": 50, "currency": "CNY"},
        out_trade_no="NOTIFY-001",
    )
    calls = await receiver.wait_for(2)
    refund = await sdk(wx.callback, calls[1].headers, calls[1].body)
    assert refund["event_type"] == "REFUND.SUCCESS"
    assert refund["resource"]["refund_status"] == "SUCCESS" and refund["resource"]["amount"]["refund"] == 50


async def test_certificate_mode_fetches_the_platform_certificate(
    env: Env, make_sdk: SdkFactory, tmp_path: Path
) -> None:
    wx = make_sdk(env.creds, "certificate")
    assert (await sdk(wx.query, out_trade_no="NO-SUCH-ORDER"))[0] == 404  # errors are not verified
    assert (await sdk(wx.pay, description="d", out_trade_no="CERT-0001", amount={"total": 1}))[0] == 200
    serial = env.creds["platform_certificate_serial"]
    stored = tmp_path / f"certs-{env.creds['mchid']}" / f"{serial}.pem"
    assert stored.read_text() == env.creds["platform_certificate"]
    assert certificate_serial(stored.read_text()) == int(serial, 16)


async def test_sdk_refuses_a_forged_answer(env: Env, make_sdk: SdkFactory) -> None:
    """The converse: the SDK really checks the sandbox (another platform key fails)."""
    creds = {**env.creds, "platform_public_key": _other_public_key()}
    wx = make_sdk(creds, "public_key")
    with pytest.raises(Exception, match="failed to verify the signature"):
        await sdk(wx.pay, description="d", out_trade_no="FORGED-01", amount={"total": 1})


def _other_public_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


async def test_mounts_in_the_sandbox_host(key_dir: Path, make_sdk: SdkFactory) -> None:
    """paygate's sandbox server loads the class by name and mounts it at /wechatpay."""
    from paygate.sandbox.app import SandboxHost
    from paygate.sandbox.base import SandboxConfig
    from tests.support.servers import free_port, serve_asgi

    port = free_port()
    config = SandboxConfig(base_url=f"http://127.0.0.1:{port}", data_dir=key_dir, time_scale=0.001)
    host = SandboxHost(config, {"wechatpay": "paygate.sandbox.wechatpay:WechatPaySandbox"})
    async with serve_asgi(host.asgi(), port=port):
        await host.start()
        try:
            creds = host.credentials("wechatpay")
            assert creds["base_url"] == f"http://127.0.0.1:{port}/wechatpay"
            wx = make_sdk(creds)
            code, text = await sdk(wx.pay, description="d", out_trade_no="HOST-00001", amount={"total": 1})
            assert code == 200 and json.loads(text)["code_url"].startswith(creds["base_url"])
        finally:
            await host.stop()
