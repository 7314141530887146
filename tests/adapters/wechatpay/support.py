"""Test-side WeChat Pay v3 helpers, written independently of the adapter's protocol code.

Signing, verification, AES-GCM and certificates use ``cryptography`` directly and build
the spec's strings (shared/spec/channels.md §2) by hand, so a bug in the adapter cannot be
mirrored here.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

from paygate.channels.contract import ChannelAccount
from paygate.kit.crypto import Secret

MCHID = "1900000109"
APPID = "wxd678efh567hg6787"
MERCHANT_SERIAL = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
PUBLIC_KEY_ID = "PUB_KEY_ID_0119000001092026060500000000000001"
APIV3_KEY = "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb"
OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
AUTH_PATTERN = re.compile(
    r'WECHATPAY2-SHA256-RSA2048 mchid="([^"]+)",nonce_str="([0-9A-F]{32})",'
    r'signature="([^"]+)",timestamp="(\d+)",serial_no="([^"]+)"'
)


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem_private(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def pem_public(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def ref_sign(key: rsa.RSAPrivateKey, message: bytes) -> str:
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def ref_verify(key: rsa.RSAPrivateKey, message: bytes, signature: str) -> bool:
    try:
        key.public_key().verify(base64.b64decode(signature), message, padding.PKCS1v15(), hashes.SHA256())
    except Exception:
        return False
    return True


def signed_headers(
    key: rsa.RSAPrivateKey,
    serial: str,
    body: bytes,
    *,
    timestamp: int | None = None,
    signature_type: str | None = "WECHATPAY2-SHA256-RSA2048",
) -> dict[str, str]:
    """The five ``Wechatpay-*`` headers of an answer or a notification, spelled out."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    nonce = secrets.token_hex(16)
    headers = {
        "Wechatpay-Timestamp": ts,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": ref_sign(key, ts.encode() + b"\n" + nonce.encode() + b"\n" + body + b"\n"),
        "Wechatpay-Serial": serial,
    }
    if signature_type is not None:
        headers["Wechatpay-Signature-Type"] = signature_type
    return headers


def encrypt(apiv3_key: str, plaintext: bytes, associated_data: str) -> dict[str, str]:
    nonce = secrets.token_hex(6)  # 12 characters
    sealed = AESGCM(apiv3_key.encode()).encrypt(nonce.encode(), plaintext, associated_data.encode())
    return {
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": base64.b64encode(sealed).decode(),
        "associated_data": associated_data,
        "nonce": nonce,
    }


def compact(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def event_body(
    resource: dict[str, Any],
    *,
    event_type: str = "TRANSACTION.SUCCESS",
    apiv3_key: str = APIV3_KEY,
    event_id: str = "EV-2018-08-09T10:00:00+08:00-0001",
) -> bytes:
    kind = "refund" if event_type.startswith("REFUND.") else "transaction"
    return compact(
        {
            "id": event_id,
            "create_time": "2026-06-05T16:00:08+08:00",
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": "支付成功",
            "resource": {"original_type": kind, **encrypt(apiv3_key, compact(resource), kind)},
        }
    )


def make_certificate(
    key: rsa.RSAPrivateKey, *, days: int = 365, serial: int | None = None
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA (test)")])
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )


def cert_serial(cert: x509.Certificate) -> str:
    return f"{cert.serial_number:040X}"


def cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@dataclass
class Keys:
    merchant: rsa.RSAPrivateKey  # the merchant API key pair
    platform: rsa.RSAPrivateKey  # WeChat Pay's platform key pair (public-key mode)
    cert_key: rsa.RSAPrivateKey  # the platform certificate's key pair
    rotated: rsa.RSAPrivateKey  # the next platform certificate's key pair
    other: rsa.RSAPrivateKey = field(repr=False)  # a forger's key
    certificate: x509.Certificate = field(init=False)
    rotated_certificate: x509.Certificate = field(init=False)

    def __post_init__(self) -> None:
        self.certificate = make_certificate(self.cert_key)
        self.rotated_certificate = make_certificate(self.rotated)


def make_account(
    keys: Keys, gateway_url: str, *, public_key_mode: bool = True, **overrides: Any
) -> ChannelAccount:
    secrets_: dict[str, Secret] = {
        "merchant_private_key": Secret(pem_private(keys.merchant)),
        "apiv3_key": Secret(APIV3_KEY),
    }
    params = {"appid": APPID, "merchant_serial_no": MERCHANT_SERIAL}
    if public_key_mode:
        secrets_["platform_public_key"] = Secret(pem_public(keys.platform))
        params["platform_public_key_id"] = PUBLIC_KEY_ID
    values: dict[str, Any] = {
        "id": 1 if public_key_mode else 2,
        "channel": "wechatpay",
        "name": "wechatpay-test",
        "merchant_id": MCHID,
        "gateway_url": gateway_url,
        "secrets": secrets_,
        "params": params,
        "notify_url": "https://paygate.example.com/notify/wechatpay/1",
        "return_url": "https://shop.example.com/return",
        "timeout_seconds": 2.0,
    }
    values.update(overrides)
    return ChannelAccount(**values)


def account_from_credentials(
    creds: dict[str, Any], *, public_key_mode: bool, account_id: int, notify_url: str, timeout: float = 2.0
) -> ChannelAccount:
    """A channel account configured from the sandbox's ``credentials()``."""
    secrets_ = {
        "merchant_private_key": Secret(creds["merchant_private_key"]),
        "apiv3_key": Secret(creds["apiv3_key"]),
    }
    params = {"appid": creds["appid"], "merchant_serial_no": creds["merchant_serial_no"]}
    if public_key_mode:
        secrets_["platform_public_key"] = Secret(creds["platform_public_key"])
        params["platform_public_key_id"] = creds["platform_public_key_id"]
    return ChannelAccount(
        id=account_id,
        channel="wechatpay",
        name=f"sandbox-{account_id}",
        merchant_id=creds["mchid"],
        gateway_url=creds["base_url"],
        secrets=secrets_,
        params=params,
        notify_url=notify_url,
        return_url="https://shop.example.com/return",
        timeout_seconds=timeout,
    )
