"""Request verification (signature over the raw body, timestamp window, merchant and
serial) and answer signing, checked with the tests' own client."""

from __future__ import annotations

import json
import time

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from paygate.kit.crypto import public_key_pem
from paygate.sandbox.wechatpay.errors import WechatError
from paygate.sandbox.wechatpay.keys import build_merchant
from paygate.sandbox.wechatpay.wire import canonical_urls, parse_authorization, verify

from .conftest import Env
from .wxclient import WECHATPAY_HEADERS, authorization, decrypt, order, verify_headers


def _error(response) -> dict:  # type: ignore[no-untyped-def]
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


async def test_answers_carry_the_five_signature_headers(env: Env) -> None:
    client = env.client()
    response = await client.pay()
    assert response.status_code == 200
    assert all(h in response.headers for h in WECHATPAY_HEADERS)
    assert response.headers["Wechatpay-Serial"] == env.creds["platform_public_key_id"]
    assert response.headers["content-type"].startswith("application/json")
    assert client.verified(response)

    cert_mode = env.client(public_key_mode=False)
    response = await cert_mode.pay()
    assert response.headers["Wechatpay-Serial"] == env.creds["platform_certificate_serial"]
    assert cert_mode.verified(response)  # same platform key inside the certificate


async def test_missing_or_malformed_authorization(env: Env) -> None:
    client = env.client()
    missing = await env.http.post(env.base_url + "/v3/pay/transactions/native", json=order(env.creds))
    assert missing.status_code == 401 and _error(missing)["code"] == "SIGN_ERROR"
    for header in ["Bearer abc", 'WECHATPAY2-SHA256-RSA2048 mchid="1"', "WECHATPAY2-SHA256-RSA2048 x"]:
        response = await client.request(
            "POST", "/v3/pay/transactions/native", order(env.creds), authorization_header=header
        )
        assert response.status_code == 401
        assert _error(response)["code"] == "SIGN_ERROR"
        assert client.verified(response)  # errors are signed too


async def test_bad_signature_is_refused_with_sign_information(env: Env) -> None:
    client = env.client()
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    response = await client.request("POST", "/v3/pay/transactions/native", order(env.creds), key=other)
    assert response.status_code == 401
    body = _error(response)
    assert body["code"] == "SIGN_ERROR" and body["message"] == "错误的签名，验签失败"
    info = body["detail"]["sign_information"]
    assert info["method"] == "POST" and info["url"] == "/v3/pay/transactions/native"


async def test_tampered_body_is_refused(env: Env) -> None:
    client = env.client()
    signed = json.dumps(order(env.creds, amount={"total": 1})).encode()
    sent = signed.replace(b'"total": 1', b'"total": 9')
    response = await client.request("POST", "/v3/pay/transactions/native", body=sent, signed_body=signed)
    assert response.status_code == 401 and _error(response)["code"] == "SIGN_ERROR"


async def test_the_raw_body_is_verified_not_a_reserialisation(env: Env) -> None:
    client = env.client()
    body = json.dumps(order(env.creds), indent=3, ensure_ascii=False).encode("utf-8") + b"\n  "
    response = await client.request("POST", "/v3/pay/transactions/native", body=body)
    assert response.status_code == 200, response.text


async def test_timestamp_window(env: Env) -> None:
    client = env.client()
    late = await client.request(
        "POST", "/v3/pay/transactions/native", order(env.creds), timestamp=int(time.time()) - 301
    )
    assert late.status_code == 401 and _error(late)["code"] == "SIGN_ERROR"
    early = await client.request(
        "POST", "/v3/pay/transactions/native", order(env.creds), timestamp=int(time.time()) + 400
    )
    assert early.status_code == 401
    recent = await client.request(
        "POST", "/v3/pay/transactions/native", order(env.creds), timestamp=int(time.time()) - 240
    )
    assert recent.status_code == 200


async def test_wrong_serial_no_and_unknown_merchant(env: Env) -> None:
    client = env.client()
    response = await client.request(
        "POST", "/v3/pay/transactions/native", order(env.creds), serial_no="0" * 40
    )
    assert response.status_code == 401 and _error(response)["code"] == "SIGN_ERROR"
    response = await client.request(
        "POST", "/v3/pay/transactions/native", order(env.creds), mchid="1999999999"
    )
    assert response.status_code == 400 and _error(response)["code"] == "MCH_NOT_EXISTS"


async def test_mchid_must_match_the_signer(env: Env) -> None:
    client = env.client()
    other = env.sandbox.register_merchant()
    response = await client.pay(mchid=other["mchid"])
    assert response.status_code == 400
    body = _error(response)
    assert body["code"] == "PARAM_ERROR" and body["detail"]["field"] == "mchid"
    response = await client.pay(appid=other["appid"])
    assert response.status_code == 400 and _error(response)["code"] == "APPID_MCHID_NOT_MATCH"
    response = await client.request("GET", f"/v3/pay/transactions/out-trade-no/ANY123?mchid={other['mchid']}")
    assert response.status_code == 400 and _error(response)["code"] == "PARAM_ERROR"


async def test_merchants_do_not_see_each_other(env: Env) -> None:
    first = env.client()
    created = order(env.creds, out_trade_no="MINE-00001")
    assert (await first.request("POST", "/v3/pay/transactions/native", created)).status_code == 200
    other_creds = {**env.creds, **env.sandbox.register_merchant()}
    second = env.client(other_creds)
    response = await second.request(
        "GET", f"/v3/pay/transactions/out-trade-no/MINE-00001?mchid={other_creds['mchid']}"
    )
    assert response.status_code == 404 and _error(response)["code"] == "ORDER_NOT_EXIST"
    assert second.verified(response)


async def test_the_full_request_path_may_be_signed(env: Env) -> None:
    client = env.client()
    body = json.dumps(order(env.creds)).encode()
    header = authorization(
        client.key, mchid=env.creds["mchid"], serial_no=env.creds["merchant_serial_no"],
        method="POST", url="/wechatpay/v3/pay/transactions/native", body=body,
    )  # fmt: skip
    response = await client.request(
        "POST", "/v3/pay/transactions/native", body=body, authorization_header=header
    )
    assert response.status_code == 200


async def test_unknown_wechatpay_serial_is_refused(env: Env) -> None:
    client = env.client()
    response = await client.request(
        "POST", "/v3/pay/transactions/native", order(env.creds),
        headers={"Wechatpay-Serial": "PUB_KEY_ID_0000"},
    )  # fmt: skip
    assert response.status_code == 400 and _error(response)["code"] == "PARAM_ERROR"


async def test_content_type_must_be_json(env: Env) -> None:
    client = env.client()
    response = await client.request(
        "POST", "/v3/pay/transactions/native", order(env.creds),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    assert response.status_code == 400 and _error(response)["code"] == "INVALID_REQUEST"


# -- the verifier as a pure function -------------------------------------------------------

_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_MERCHANT = build_merchant(mchid="1900000109", public_key=public_key_pem(_KEY))


@settings(max_examples=40, deadline=None)
@given(body=st.binary(max_size=300), flip=st.integers(min_value=0, max_value=299))
def test_verify_accepts_exact_bytes_and_nothing_else(body: bytes, flip: int) -> None:
    now = int(time.time())
    header = authorization(
        _KEY, mchid=_MERCHANT.mchid, serial_no=_MERCHANT.serial_no, method="POST",
        url="/v3/pay/transactions/native", body=body, timestamp=now,
    )  # fmt: skip
    auth = parse_authorization(header)
    urls = ["/v3/pay/transactions/native"]
    verify(auth, _MERCHANT, "POST", urls, body, now)
    if body:
        i = flip % len(body)
        tampered = body[:i] + bytes([body[i] ^ 0x01]) + body[i + 1 :]
        with pytest.raises(WechatError) as caught:
            verify(auth, _MERCHANT, "POST", urls, tampered, now)
        assert caught.value.code == "SIGN_ERROR"
    with pytest.raises(WechatError):
        verify(auth, _MERCHANT, "GET", urls, body, now)


def test_canonical_urls_cover_prefix_and_percent_encoding() -> None:
    urls = canonical_urls("/wechatpay/v3/pay/transactions/out-trade-no/A%7CB", "/wechatpay", "mchid=1")
    assert urls[0] == "/v3/pay/transactions/out-trade-no/A%7CB?mchid=1"
    assert "/v3/pay/transactions/out-trade-no/A|B?mchid=1" in urls
    assert "/wechatpay/v3/pay/transactions/out-trade-no/A%7CB?mchid=1" in urls


def test_response_verification_helper_rejects_other_keys() -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert not verify_headers({"Wechatpay-Signature": "AAAA"}, b"x", other.public_key())


async def test_certificates_are_encrypted_for_the_caller(env: Env) -> None:
    client = env.client()  # public-key mode: the certificate list is still signed by certificate
    response = await client.request("GET", "/v3/certificates")
    assert response.status_code == 200 and client.verified(response)
    assert response.headers["Wechatpay-Serial"] == env.creds["platform_certificate_serial"]
    [entry] = response.json()["data"]
    assert entry["serial_no"] == env.creds["platform_certificate_serial"]
    assert entry["effective_time"].endswith("+08:00") and entry["expire_time"].endswith("+08:00")
    encrypted = entry["encrypt_certificate"]
    assert encrypted["algorithm"] == "AEAD_AES_256_GCM" and encrypted["associated_data"] == "certificate"
    assert len(encrypted["nonce"]) == 12
    assert decrypt(env.creds["apiv3_key"], encrypted).decode() == env.creds["platform_certificate"]
    other = {**env.creds, **env.sandbox.register_merchant()}
    theirs = (await env.client(other).request("GET", "/v3/certificates")).json()["data"][0]
    assert (
        decrypt(other["apiv3_key"], theirs["encrypt_certificate"]).decode()
        == env.creds["platform_certificate"]
    )
