"""Alipay's wire rules (signing, times), written from the protocol (shared/spec/channels.md
§1), never shared with the sandbox.

* Request canonical string: every parameter except ``sign``, **empty values skipped**, sorted
  by key, ``k=v`` joined by ``&``, values as sent (not URL-encoded).
* Notification / return canonical string: ``sign`` **and** ``sign_type`` removed, **empty
  values kept**, sorted, ``k=v&…``.
* Responses: the signature covers the exact raw text of the ``<method>_response`` (or
  ``error_response``) value, found here with a real JSON scanner (never by counting braces,
  which a ``{`` inside a string value would fool).
* ``RSA2`` = RSA PKCS#1 v1.5 + SHA-256; ``RSA`` = the same with SHA-1. Base64 signatures.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta, timezone
from typing import Any, Final, Literal

from paygate.kit.crypto import CryptoError, rsa_sign, rsa_verify

__all__ = [
    "BEIJING",
    "SIGN_TYPES",
    "TIME_FORMAT",
    "SignedResponse",
    "canonical_notification",
    "canonical_request",
    "extract_signed_response",
    "hash_for",
    "mask_params",
    "response_key",
    "sign_text",
    "verify_text",
]

#: Alipay reads every timestamp it is sent, and writes every one it sends, in Beijing time.
BEIJING: Final = timezone(timedelta(hours=8), "Asia/Shanghai")
TIME_FORMAT: Final = "%Y-%m-%d %H:%M:%S"

#: The signature algorithms Alipay offers, by their ``sign_type`` word.
SIGN_TYPES: Final[dict[str, Literal["SHA256", "SHA1"]]] = {"RSA2": "SHA256", "RSA": "SHA1"}


def hash_for(sign_type: str) -> Literal["SHA256", "SHA1"]:
    try:
        return SIGN_TYPES[sign_type]
    except KeyError:
        raise ValueError(f"unsupported Alipay sign_type {sign_type!r}") from None


def canonical_request(params: Mapping[str, str]) -> str:
    """The string a request (or an app order string) is signed over."""
    items = sorted((k, v) for k, v in params.items() if k != "sign" and v != "")
    return "&".join(f"{k}={v}" for k, v in items)


def canonical_notification(params: Mapping[str, str]) -> str:
    """The string an async notification or a sync return is signed over."""
    items = sorted((k, v) for k, v in params.items() if k not in ("sign", "sign_type"))
    return "&".join(f"{k}={v}" for k, v in items)


def sign_text(private_key: str, text: str, sign_type: str) -> str:
    return rsa_sign(private_key, text.encode("utf-8"), hash_for(sign_type))


def verify_text(public_key: str, text: str, signature: str, sign_type: str) -> bool:
    """True only for a valid signature; a malformed key or signature is simply False."""
    if not signature:
        return False
    try:
        return rsa_verify(public_key, text.encode("utf-8"), signature, hash_for(sign_type))
    except (CryptoError, ValueError):
        return False


def response_key(method: str) -> str:
    """``alipay.trade.query`` → ``alipay_trade_query_response``."""
    return method.replace(".", "_") + "_response"


@dataclass(frozen=True)
class SignedResponse:
    """The response object of one call, its exact signed text, and the signature beside it."""

    key: str  # "<method>_response" or "error_response"
    raw: str  # the exact text the signature covers
    data: dict[str, Any]  # parsed from ``raw`` itself, so what is used is what was verified
    sign: str | None


_DECODER: Final = json.JSONDecoder()
_WS: Final = " \t\n\r"


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _WS:
        pos += 1
    return pos


def _top_level_spans(text: str) -> dict[str, tuple[int, int]]:
    """Map each top-level key of a JSON object to the (start, end) span of its raw value.

    Each value is consumed by the JSON decoder itself, so braces or quotes inside strings
    cannot shift the spans. Duplicate keys are refused: a body with two ``…_response``
    members could make the verified text differ from the one acted upon.
    """
    pos = _skip_ws(text, 0)
    if pos >= len(text) or text[pos] != "{":
        raise ValueError("the body is not a JSON object")
    pos = _skip_ws(text, pos + 1)
    spans: dict[str, tuple[int, int]] = {}
    if pos < len(text) and text[pos] == "}":
        return spans
    while True:
        if pos >= len(text) or text[pos] != '"':
            raise ValueError("expected a member name")
        key, pos = _DECODER.raw_decode(text, pos)
        pos = _skip_ws(text, pos)
        if pos >= len(text) or text[pos] != ":":
            raise ValueError("expected ':'")
        start = _skip_ws(text, pos + 1)
        _, end = _DECODER.raw_decode(text, start)
        if key in spans:
            raise ValueError(f"duplicate member {key!r}")
        spans[key] = (start, end)
        pos = _skip_ws(text, end)
        if pos < len(text) and text[pos] == ",":
            pos = _skip_ws(text, pos + 1)
            continue
        if pos < len(text) and text[pos] == "}":
            if _skip_ws(text, pos + 1) != len(text):
                raise ValueError("trailing data after the JSON object")
            return spans
        raise ValueError("expected ',' or '}'")


def extract_signed_response(body: str, method: str) -> SignedResponse:
    """Find ``<method>_response`` (else ``error_response``) and the top-level ``sign``.

    Raises ValueError when the body is not a JSON object or holds neither member.
    """
    try:
        spans = _top_level_spans(body)
    except json.JSONDecodeError as exc:
        raise ValueError(f"the body is not JSON: {exc.msg}") from None
    key = response_key(method)
    if key not in spans:
        key = "error_response"
        if key not in spans:
            raise ValueError(f"the body holds no {response_key(method)!r} member")
    start, end = spans[key]
    raw = body[start:end]
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError(f"{key!r} is not an object")
    sign: str | None = None
    if "sign" in spans:
        s_start, s_end = spans["sign"]
        value = json.loads(body[s_start:s_end])
        if not isinstance(value, str):
            raise ValueError("'sign' is not a string")
        sign = value
    return SignedResponse(key=key, raw=raw, data=data, sign=sign)


_MASKED_BIZ_FIELDS: Final = frozenset({"auth_code"})
_MASKED_PARAMS: Final = frozenset({"app_auth_token", "auth_token"})


def _mask(value: str) -> str:
    if len(value) <= 6:
        return "***"
    return f"{value[:2]}***{value[-2:]}"


def mask_params(params: Mapping[str, str]) -> dict[str, Any]:
    """Parameters for the trade log: no ``sign``, ``biz_content`` parsed, one-time codes and
    tokens masked."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if key == "sign":
            continue
        if key in _MASKED_PARAMS:
            out[key] = _mask(value)
        elif key == "biz_content":
            try:
                biz = json.loads(value)
            except ValueError:
                out[key] = "<unreadable>"
                continue
            if isinstance(biz, dict):
                for name in _MASKED_BIZ_FIELDS & biz.keys():
                    biz[name] = _mask(str(biz[name]))
            out[key] = biz
        else:
            out[key] = value
    return out
