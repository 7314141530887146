"""Canonical strings, signatures and response extraction against independent vectors."""

from __future__ import annotations

import json

import pytest

from paygate.channels.alipay.protocol import (
    canonical_notification,
    canonical_request,
    extract_signed_response,
    mask_params,
    response_key,
    sign_text,
    verify_text,
)
from tests.adapters.alipay.support import (
    Keys,
    pem_private,
    pem_public,
    ref_notify_string,
    ref_request_string,
    ref_sign,
    signed_body,
)

BIZ = '{"button":[{"actionParam":"ZFB_HFCZ","actionType":"out","name":"话费充值"}]}'
REQUEST = {
    "app_id": "2014072300007148",
    "method": "alipay.mobile.public.menu.add",
    "charset": "GBK",
    "sign_type": "RSA2",
    "timestamp": "2014-07-24 03:07:50",
    "biz_content": BIZ,
    "version": "1.0",
    "notify_url": "",
    "sign": "c2lnbg==",
}
# Written by hand from the rule (skip sign and empty values, sort, k=v&…).
REQUEST_STRING = (
    "app_id=2014072300007148"
    f"&biz_content={BIZ}"
    "&charset=GBK"
    "&method=alipay.mobile.public.menu.add"
    "&sign_type=RSA2"
    "&timestamp=2014-07-24 03:07:50"
    "&version=1.0"
)

NOTIFY = {
    "notify_time": "2026-06-05 16:01:40",
    "notify_type": "trade_status_sync",
    "notify_id": "ac05099524730693a8b330c5ecf72da9786",
    "app_id": "2021000000000001",
    "charset": "utf-8",
    "version": "1.0",
    "sign_type": "RSA2",
    "sign": "c2lnbg==",
    "trade_no": "2026060522001419931441931972",
    "out_trade_no": "A1",
    "body": "",
    "trade_status": "TRADE_SUCCESS",
    "total_amount": "0.01",
}
# By hand: drop sign and sign_type, KEEP the empty body, sort.
NOTIFY_STRING = (
    "app_id=2021000000000001&body=&charset=utf-8"
    "&notify_id=ac05099524730693a8b330c5ecf72da9786&notify_time=2026-06-05 16:01:40"
    "&notify_type=trade_status_sync&out_trade_no=A1&total_amount=0.01"
    "&trade_no=2026060522001419931441931972&trade_status=TRADE_SUCCESS&version=1.0"
)


class TestCanonicalStrings:
    def test_request_vector(self) -> None:
        assert canonical_request(REQUEST) == REQUEST_STRING
        assert ref_request_string(REQUEST) == REQUEST_STRING

    def test_request_keeps_sign_type_and_skips_empty(self) -> None:
        assert "sign_type=RSA2" in canonical_request(REQUEST)
        assert "notify_url" not in canonical_request(REQUEST)
        assert "c2lnbg" not in canonical_request(REQUEST)

    def test_notification_vector(self) -> None:
        assert canonical_notification(NOTIFY) == NOTIFY_STRING
        assert ref_notify_string(NOTIFY) == NOTIFY_STRING

    def test_notification_keeps_empty_values(self) -> None:
        assert "&body=&" in canonical_notification(NOTIFY)
        assert "sign_type" not in canonical_notification(NOTIFY)


class TestSignatures:
    @pytest.mark.parametrize(("sign_type", "sha1"), [("RSA2", False), ("RSA", True)])
    def test_sign_matches_reference(self, keys: Keys, sign_type: str, sha1: bool) -> None:
        # PKCS#1 v1.5 is deterministic: the same key and text give the same bytes.
        ours = sign_text(pem_private(keys.app), REQUEST_STRING, sign_type)
        assert ours == ref_sign(keys.app, REQUEST_STRING, sha1=sha1)

    def test_verify(self, keys: Keys) -> None:
        public = pem_public(keys.alipay)
        good = ref_sign(keys.alipay, NOTIFY_STRING)
        assert verify_text(public, NOTIFY_STRING, good, "RSA2")
        assert not verify_text(public, NOTIFY_STRING + "x", good, "RSA2")
        assert not verify_text(public, NOTIFY_STRING, ref_sign(keys.other, NOTIFY_STRING), "RSA2")
        assert not verify_text(public, NOTIFY_STRING, good, "RSA")  # SHA-1 ≠ SHA-256
        assert not verify_text(public, NOTIFY_STRING, "", "RSA2")
        assert not verify_text(public, NOTIFY_STRING, "not base64!!", "RSA2")
        assert not verify_text("garbage key", NOTIFY_STRING, good, "RSA2")

    def test_unknown_sign_type(self, keys: Keys) -> None:
        with pytest.raises(ValueError, match="sign_type"):
            sign_text(pem_private(keys.app), "x", "MD5")


METHOD = "alipay.trade.query"


class TestResponseExtraction:
    def test_spec_layout(self, keys: Keys) -> None:
        obj = {"code": "10000", "msg": "Success", "subject": "充值"}
        body = signed_body(keys.alipay, METHOD, obj)
        signed = extract_signed_response(body, METHOD)
        assert signed.key == "alipay_trade_query_response"
        assert signed.raw == json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
        assert signed.data == obj
        assert verify_text(pem_public(keys.alipay), signed.raw, signed.sign or "", "RSA2")

    def test_braces_and_quotes_inside_strings(self, keys: Keys) -> None:
        obj = {"code": "10000", "msg": 'a}"b{', "x": '},"sign":"forged"'}
        body = signed_body(keys.alipay, METHOD, obj)
        signed = extract_signed_response(body, METHOD)
        assert signed.data == obj
        assert verify_text(pem_public(keys.alipay), signed.raw, signed.sign or "", "RSA2")

    def test_exact_text_with_whitespace_and_sign_first(self, keys: Keys) -> None:
        inner = '{ "code" : "10000",\n  "msg" : "Success" }'
        sig = ref_sign(keys.alipay, inner)
        body = f'{{ "sign" : "{sig}" ,\n "{response_key(METHOD)}" : {inner} }}\n'
        signed = extract_signed_response(body, METHOD)
        assert signed.raw == inner
        assert signed.sign == sig

    def test_error_response_fallback(self) -> None:
        body = '{"error_response":{"code":"40002","sub_code":"isv.invalid-app-id"}}'
        signed = extract_signed_response(body, METHOD)
        assert signed.key == "error_response"
        assert signed.sign is None
        assert signed.data["sub_code"] == "isv.invalid-app-id"

    @pytest.mark.parametrize(
        "body",
        [
            "<html>busy</html>",
            "",
            "[1,2]",
            '{"alipay_trade_query_response":{"code":"10000"},"sign":"x"} trailing',
            '{"alipay_trade_query_response":{"code":"10000"},"alipay_trade_query_response":{}}',
            '{"other_response":{"code":"10000"},"sign":"x"}',
            '{"alipay_trade_query_response":"text","sign":"x"}',
            '{"alipay_trade_query_response":{"code":"10000"},"sign":5}',
            '{"alipay_trade_query_response":{"code":"10000"}',
        ],
    )
    def test_refused(self, body: str) -> None:
        with pytest.raises(ValueError):
            extract_signed_response(body, METHOD)


def test_mask_params_hides_sign_and_codes() -> None:
    params = {
        "app_id": "1",
        "sign": "SECRET-SIGNATURE",
        "app_auth_token": "201708BB28623ce3d10f4f1cb2b29f6b",
        "biz_content": '{"auth_code":"287654321098765432","total_amount":"1.00"}',
    }
    masked = mask_params(params)
    assert "sign" not in masked
    assert masked["biz_content"] == {"auth_code": "28***32", "total_amount": "1.00"}
    assert "28623ce3" not in json.dumps(masked)
