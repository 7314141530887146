"""WeChat Pay API v3 wire rules (shared/spec/channels.md §2), written from the protocol and
never shared with the sandbox.

* Request signature: ``"{METHOD}\\n{path?query}\\n{timestamp}\\n{nonce}\\n{body}\\n"`` over the
  exact bytes sent, RSA PKCS#1 v1.5 SHA-256 with the merchant key, carried as
  ``Authorization: WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",signature="…",
  timestamp="…",serial_no="…"`` (this order, no spaces).
* Response and notification signature: ``"{timestamp}\\n{nonce}\\n{body}\\n"`` over the raw
  body, with the platform key named by ``Wechatpay-Serial``.
* Client-side (JSAPI / APP) signatures: the parts joined and ended by ``\\n``.
* Encrypted resources (notifications, certificates): AEAD_AES_256_GCM, key = the 32 ASCII
  bytes of the APIv3 key, a 12-character nonce, ``ciphertext`` = base64(ct ‖ tag).
* Times: RFC 3339 with the Beijing offset (``2026-06-05T16:30:00+08:00``).
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Final

from paygate.kit.crypto import CryptoError, aes_gcm_decrypt
from paygate.kit.masking import mask

__all__ = [
    "AEAD_ALGORITHM",
    "BEIJING",
    "SIGNATURE_TYPE",
    "SignatureHeaders",
    "authorization_header",
    "client_sign_message",
    "decrypt_resource",
    "format_time",
    "masked",
    "new_nonce",
    "normalise_headers",
    "parse_time",
    "request_message",
    "response_message",
    "signature_headers",
    "usable_apiv3_key",
]

#: WeChat writes and reads every time with the Beijing offset.
BEIJING: Final = timezone(timedelta(hours=8), "Asia/Shanghai")
SIGNATURE_TYPE: Final = "WECHATPAY2-SHA256-RSA2048"
AEAD_ALGORITHM: Final = "AEAD_AES_256_GCM"

_HEADER_NAMES: Final = ("signature", "timestamp", "nonce", "serial")


def new_nonce() -> str:
    """32 upper-case hex characters (what WeChat's own SDKs send)."""
    return secrets.token_hex(16).upper()


def request_message(method: str, target: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    """The message a request is signed over; ``target`` is the path with its query string."""
    return f"{method}\n{target}\n{timestamp}\n{nonce}\n".encode() + body + b"\n"


def authorization_header(*, mchid: str, nonce: str, signature: str, timestamp: str, serial_no: str) -> str:
    return (
        f'{SIGNATURE_TYPE} mchid="{mchid}",nonce_str="{nonce}",signature="{signature}",'
        f'timestamp="{timestamp}",serial_no="{serial_no}"'
    )


def response_message(timestamp: str, nonce: str, body: bytes) -> bytes:
    """The message a response or a notification is signed over (raw body bytes)."""
    return f"{timestamp}\n{nonce}\n".encode() + body + b"\n"


def client_sign_message(*parts: str) -> bytes:
    """JSAPI ``[appid, ts, nonce, "prepay_id=…"]`` / APP ``[appid, ts, nonce, prepay_id]``."""
    return "".join(part + "\n" for part in parts).encode()


def normalise_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Lower-case names; Django/WSGI-style ``HTTP_WECHATPAY_SIGNATURE`` is accepted too."""
    out: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        if key.startswith("http_"):
            key = key[5:].replace("_", "-")
        out[key] = value
    return out


@dataclass(frozen=True)
class SignatureHeaders:
    signature: str
    timestamp: str
    nonce: str
    serial: str


def signature_headers(headers: Mapping[str, str], *, require_type: bool) -> SignatureHeaders:
    """The ``Wechatpay-*`` headers of an answer or a notification; ValueError if one is
    missing or the signature type is not ``WECHATPAY2-SHA256-RSA2048``.

    ``require_type``: answers must name the type (like the SDK insists); a notification
    without the header is accepted, since the header itself is not signed.
    """
    lowered = normalise_headers(headers)
    values = {name: lowered.get(f"wechatpay-{name}", "").strip() for name in _HEADER_NAMES}
    missing = [f"Wechatpay-{name.title()}" for name, value in values.items() if not value]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    sig_type = lowered.get("wechatpay-signature-type", "").strip()
    if sig_type != SIGNATURE_TYPE and (sig_type or require_type):
        raise ValueError(f"Wechatpay-Signature-Type {sig_type!r} is not {SIGNATURE_TYPE}")
    return SignatureHeaders(**values)


def usable_apiv3_key(text: str) -> bytes:
    key = text.encode("utf-8")
    if len(key) != 32:
        raise CryptoError("an APIv3 key is 32 ASCII characters")
    return key


def decrypt_resource(apiv3_key: str, resource: Any) -> bytes:
    """Decrypt ``{"algorithm", "nonce", "associated_data", "ciphertext"}``; raises
    ValueError (CryptoError included) on any defect — a wrong key or a tampered text
    fails the GCM tag."""
    if not isinstance(resource, Mapping):
        raise ValueError("the encrypted resource is not an object")
    if resource.get("algorithm") != AEAD_ALGORITHM:
        raise ValueError(f"unsupported algorithm {resource.get('algorithm')!r}")
    nonce, aad, text = (resource.get(k) for k in ("nonce", "associated_data", "ciphertext"))
    if not isinstance(nonce, str) or not nonce or not isinstance(text, str) or not text:
        raise ValueError("the encrypted resource lacks nonce or ciphertext")
    if aad is not None and not isinstance(aad, str):
        raise ValueError("associated_data is not a string")
    try:
        sealed = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the ciphertext is not base64") from None
    return aes_gcm_decrypt(usable_apiv3_key(apiv3_key), nonce.encode(), sealed, (aad or "").encode())


def format_time(moment: datetime) -> str:
    """RFC 3339 in Beijing time, seconds truncated (so a deadline is never pushed later)."""
    if moment.tzinfo is None:
        raise ValueError("times sent to WeChat Pay must be timezone-aware")
    return moment.astimezone(BEIJING).replace(microsecond=0).isoformat()


def parse_time(text: object) -> datetime | None:
    """WeChat's RFC 3339 time → aware datetime; None when absent or unreadable."""
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def masked(data: Any) -> Any:
    """Wire data for the trade log: signatures, keys and openids masked (kit.masking)."""
    return mask(data)
