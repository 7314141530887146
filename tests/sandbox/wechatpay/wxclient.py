"""A minimal WeChat Pay v3 client written for the tests, independently of the sandbox:
it signs requests and verifies answers with ``cryptography`` directly, so a mistake in
the sandbox's own signing code cannot hide behind the same mistake here."""

from __future__ import annotations

import base64
import functools
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

WECHATPAY_HEADERS = (
    "Wechatpay-Signature",
    "Wechatpay-Timestamp",
    "Wechatpay-Nonce",
    "Wechatpay-Serial",
    "Wechatpay-Signature-Type",
)


def load_private(pem: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def load_public(pem: str) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(pem.encode())
    assert isinstance(key, rsa.RSAPublicKey)
    return key


def sign(key: rsa.RSAPrivateKey, message: bytes) -> str:
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def authorization(
    key: rsa.RSAPrivateKey,
    *,
    mchid: str,
    serial_no: str,
    method: str,
    url: str,
    body: bytes,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> str:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or secrets.token_hex(16).upper()
    message = f"{method}\n{url}\n{ts}\n{nonce}\n".encode() + body + b"\n"
    signature = sign(key, message)
    return (
        f'WECHATPAY2-SHA256-RSA2048 mchid="{mchid}",nonce_str="{nonce}",'
        f'signature="{signature}",timestamp="{ts}",serial_no="{serial_no}"'
    )


def verify_headers(
    headers: httpx.Headers | dict[str, str], body: bytes, public_key: rsa.RSAPublicKey
) -> bool:
    get = headers.get
    message = (
        get("Wechatpay-Timestamp", "").encode() + b"\n" + get("Wechatpay-Nonce", "").encode()
        + b"\n" + body + b"\n"
    )  # fmt: skip
    try:
        public_key.verify(
            base64.b64decode(get("Wechatpay-Signature", "")),
            message,
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    except (InvalidSignature, ValueError):
        return False
    return get("Wechatpay-Signature-Type") == "WECHATPAY2-SHA256-RSA2048"


def decrypt(apiv3_key: str, resource: dict[str, str]) -> bytes:
    return AESGCM(apiv3_key.encode()).decrypt(
        resource["nonce"].encode(),
        base64.b64decode(resource["ciphertext"]),
        resource["associated_data"].encode(),
    )


@dataclass
class WxClient:
    """Signs like a merchant; ``base_url`` already includes ``/wechatpay``."""

    base_url: str
    creds: dict[str, Any]
    http: httpx.AsyncClient
    public_key_mode: bool = True

    @functools.cached_property
    def key(self) -> rsa.RSAPrivateKey:
        return load_private(self.creds["merchant_private_key"])

    @functools.cached_property
    def platform_key(self) -> rsa.RSAPublicKey:
        return load_public(self.creds["platform_public_key"])

    async def request(
        self,
        method: str,
        path: str,
        payload: Any = None,
        *,
        body: bytes | None = None,
        signed_body: bytes | None = None,
        headers: dict[str, str] | None = None,
        timestamp: int | None = None,
        mchid: str | None = None,
        serial_no: str | None = None,
        key: rsa.RSAPrivateKey | None = None,
        authorization_header: str | None = None,
    ) -> httpx.Response:
        """``path`` starts with ``/v3``; ``body`` overrides the JSON of ``payload`` and
        ``signed_body`` what is signed (to send a tampered body)."""
        if body is None:
            body = b"" if payload is None else json.dumps(payload).encode()
        auth = authorization_header or authorization(
            key or self.key,
            mchid=mchid or self.creds["mchid"],
            serial_no=serial_no or self.creds["merchant_serial_no"],
            method=method,
            url=path,
            body=body if signed_body is None else signed_body,
            timestamp=timestamp,
        )
        all_headers = {
            "Authorization": auth,
            "Accept": "application/json",
            "Content-Type": "application/json",
        }
        if self.public_key_mode:
            all_headers["Wechatpay-Serial"] = self.creds["platform_public_key_id"]
        all_headers.update(headers or {})
        return await self.http.request(method, self.base_url + path, content=body, headers=all_headers)

    def verified(self, response: httpx.Response) -> bool:
        return verify_headers(response.headers, response.content, self.platform_key)

    async def pay(self, kind: str = "native", **overrides: Any) -> httpx.Response:
        return await self.request(
            "POST", f"/v3/pay/transactions/{kind}", order(self.creds, kind, **overrides)
        )


def order(creds: dict[str, Any], kind: str = "native", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "appid": creds["appid"],
        "mchid": creds["mchid"],
        "description": "Image形象店-深圳腾大-QQ公仔",
        "out_trade_no": "T" + secrets.token_hex(8),
        "notify_url": "http://127.0.0.1:9/wechat/notify",
        "amount": {"total": 100, "currency": "CNY"},
    }
    if kind == "jsapi":
        body["payer"] = {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}
    if kind == "h5":
        body["scene_info"] = {"payer_client_ip": "14.23.150.211", "h5_info": {"type": "Wap"}}
    body.update(overrides)
    return body


def certificate_serial(pem: str) -> int:
    return x509.load_pem_x509_certificate(pem.encode()).serial_number
