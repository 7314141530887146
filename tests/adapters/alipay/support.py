"""Test-side Alipay helpers, written independently of the adapter's own protocol code.

The reference signer uses ``cryptography`` directly and builds the spec's response layout
(shared/spec/channels.md §1.2) by hand, so a bug in the adapter's signing or extraction
cannot be mirrored here.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from paygate.channels.contract import ChannelAccount
from paygate.kit.crypto import Secret

APP_ID = "2021000000000001"
SELLER_ID = "2088000000000001"


def pem_private(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()


def pem_public(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def ref_sign(key: rsa.RSAPrivateKey, text: str, sha1: bool = False) -> str:
    algorithm = hashes.SHA1() if sha1 else hashes.SHA256()
    return base64.b64encode(key.sign(text.encode(), padding.PKCS1v15(), algorithm)).decode()


def ref_verify(key: rsa.RSAPrivateKey, text: str, signature: str, sha1: bool = False) -> bool:
    algorithm = hashes.SHA1() if sha1 else hashes.SHA256()
    try:
        key.public_key().verify(base64.b64decode(signature), text.encode(), padding.PKCS1v15(), algorithm)
    except Exception:
        return False
    return True


def ref_request_string(params: Mapping[str, str]) -> str:
    """Request canonical string, spelled out: drop sign and empties, sort, k=v&…"""
    kept = {k: v for k, v in params.items() if k != "sign" and v}
    return "&".join(k + "=" + kept[k] for k in sorted(kept))


def ref_notify_string(params: Mapping[str, str]) -> str:
    """Notification canonical string: drop sign and sign_type, keep empties, sort."""
    kept = {k: v for k, v in params.items() if k not in {"sign", "sign_type"}}
    return "&".join(k + "=" + kept[k] for k in sorted(kept))


def signed_body(key: rsa.RSAPrivateKey, method: str, obj: dict[str, Any]) -> str:
    """A gateway answer exactly as the spec's §1.2 builds it."""
    inner = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    name = method.replace(".", "_") + "_response"
    return f'{{"{name}":{inner},"sign":"{ref_sign(key, inner)}"}}'


@dataclass
class Keys:
    app: rsa.RSAPrivateKey  # the merchant app's key pair
    alipay: rsa.RSAPrivateKey  # "Alipay's" key pair
    other: rsa.RSAPrivateKey = field(repr=False)  # a forger's key


def make_account(keys: Keys, gateway_url: str, **overrides: Any) -> ChannelAccount:
    values: dict[str, Any] = {
        "id": 1,
        "channel": "alipay",
        "name": "alipay-test",
        "merchant_id": APP_ID,
        "gateway_url": gateway_url,
        "secrets": {
            "app_private_key": Secret(pem_private(keys.app)),
            "alipay_public_key": Secret(pem_public(keys.alipay)),
        },
        "params": {"seller_id": SELLER_ID},
        "notify_url": "https://paygate.example.com/notify/alipay/1",
        "return_url": "https://shop.example.com/return",
        "timeout_seconds": 2.0,
    }
    values.update(overrides)
    return ChannelAccount(**values)
