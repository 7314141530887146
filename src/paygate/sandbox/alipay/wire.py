"""Alipay's wire rules, implemented here independently of ``paygate.channels.alipay``.

- **Request canonical string** (the gateway verifies): every parameter except ``sign``,
  empty values skipped, sorted by key, ``k=v`` joined by ``&``, values as decoded.
- **Notification / return canonical string** (the sandbox signs): ``sign`` *and*
  ``sign_type`` removed, sorted, empty values kept (so the sandbox never emits one).
- ``RSA2`` is RSA PKCS#1 v1.5 over SHA-256, ``RSA`` over SHA-1; signatures are base64.
- A gateway answer is ``{"<method>_response":<json>,"sign":"<sig of json>"}``.
- Amounts are yuan strings (``"12.30"``) on the wire, integer fen inside the sandbox.
- Times are Beijing time, ``yyyy-MM-dd HH:mm:ss`` (``gmt_refund`` adds milliseconds).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Final
from urllib.parse import quote_plus, unquote_to_bytes

from paygate.kit.crypto import HashName, rsa_sign, rsa_verify

__all__ = [
    "BEIJING",
    "DEFAULT_CHARSET",
    "MAX_TOTAL_FEN",
    "MIN_TOTAL_FEN",
    "SIGN_HASHES",
    "WireRequest",
    "decode_request",
    "encode_form",
    "format_fen",
    "format_time",
    "format_time_ms",
    "notification_sign_content",
    "parse_time",
    "parse_yuan",
    "request_sign_content",
    "response_body",
    "response_key",
    "sign_notification",
    "verify_request",
]

SIGN_HASHES: dict[str, HashName] = {"RSA2": "SHA256", "RSA": "SHA1"}

#: Alipay stamps everything in Beijing time.
BEIJING: Final = timezone(timedelta(hours=8), "Asia/Shanghai")
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

MIN_TOTAL_FEN: Final = 1  # 0.01
MAX_TOTAL_FEN: Final = 100_000_000_00  # 100000000.00
_YUAN = re.compile(r"(0|[1-9][0-9]{0,10})(?:\.([0-9]{1,2}))?")

#: What the gateway decodes with when the request names no charset (Alipay's default).
DEFAULT_CHARSET = "gbk"

_CODECS = {"utf-8": "utf-8", "utf8": "utf-8", "gbk": "gbk", "gb2312": "gbk"}


@dataclass(frozen=True)
class WireRequest:
    """A gateway request's parameters, query string and form body merged (query first,
    as a servlet's ``getParameter`` does), decoded with the request's ``charset``."""

    params: dict[str, str]
    codec: str
    charset_valid: bool
    charset_in_query: bool


def _pairs(raw: bytes) -> list[tuple[bytes, bytes]]:
    """``k=v&…`` percent-decoded to bytes (decoding to text needs the charset first)."""
    pairs = []
    for field in raw.split(b"&"):
        if not field:
            continue
        key, _, value = field.partition(b"=")
        pairs.append((_unquote(key), _unquote(value)))
    return pairs


def _unquote(raw: bytes) -> bytes:
    return unquote_to_bytes(raw.replace(b"+", b" "))


def decode_request(query: bytes, body: bytes) -> WireRequest:
    """Like Alipay, decode with the ``charset`` of the *query string*; a charset sent only
    in the body is checked but not used: the gateway reads it too late, so non-ASCII
    values are then decoded as GBK (and the signature does not match)."""
    query_pairs = _pairs(query)
    body_pairs = _pairs(body)
    in_query = next((v for k, v in query_pairs if k == b"charset"), None)
    named = in_query if in_query is not None else next((v for k, v in body_pairs if k == b"charset"), None)
    label = named.decode("ascii", "replace").strip().lower() if named is not None else ""
    valid = named is None or label in _CODECS
    codec = _CODECS.get(label, "utf-8") if in_query is not None else DEFAULT_CHARSET
    charset_in_query = in_query is not None
    params: dict[str, str] = {}
    for key, value in query_pairs + body_pairs:
        params.setdefault(key.decode(codec, "replace"), value.decode(codec, "replace"))
    return WireRequest(params, codec, valid, charset_in_query)


def request_sign_content(params: Mapping[str, str]) -> str:
    return "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "sign" and v != "")


def notification_sign_content(params: Mapping[str, str]) -> str:
    return "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k not in ("sign", "sign_type"))


def verify_request(params: Mapping[str, str], public_key: str, hash_name: HashName, codec: str) -> bool:
    content = request_sign_content(params).encode(codec, "replace")
    return rsa_verify(public_key, content, params.get("sign", ""), hash_name)


def sign_notification(
    params: Mapping[str, str], private_key: str, sign_type: str, codec: str
) -> dict[str, str]:
    """``params`` plus ``sign_type`` and ``sign``; empty values must not be present."""
    if any(v == "" for v in params.values()):
        raise ValueError("Alipay never sends empty notification parameters")
    signed = {**params, "sign_type": sign_type}
    content = notification_sign_content(signed).encode(codec, "replace")
    signed["sign"] = rsa_sign(private_key, content, SIGN_HASHES[sign_type])
    return signed


def encode_form(params: Mapping[str, str], codec: str) -> str:
    return "&".join(
        f"{quote_plus(k, encoding=codec)}={quote_plus(v, encoding=codec, errors='replace')}"
        for k, v in params.items()
    )


def response_key(method: str) -> str:
    """``alipay.trade.query`` → ``alipay_trade_query_response``."""
    return method.replace(".", "_") + "_response"


def response_body(
    key: str, payload: Mapping[str, Any], private_key: str, hash_name: HashName, codec: str
) -> bytes:
    """The signed answer. Like Alipay, ``/`` is escaped as ``\\/`` inside the JSON, and
    the signature covers the response object's exact bytes."""
    inner = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).replace("/", "\\/")
    inner_bytes = inner.encode(codec, "replace")
    sign = rsa_sign(private_key, inner_bytes, hash_name)
    return b'{"' + key.encode() + b'":' + inner_bytes + b',"sign":"' + sign.encode() + b'"}'


def parse_yuan(value: object) -> int | None:
    """``"12.3"`` → 1230. ``None`` when the value is not a non-negative amount with at
    most two decimals. JSON numbers are accepted as Alipay does (``"total_amount":0.01``);
    the gateway parses them as text so no float rounding happens."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    match = _YUAN.fullmatch(str(value))
    if match is None:
        return None
    return int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))


def format_fen(fen: int) -> str:
    """1230 → ``"12.30"``; -1 → ``"-0.01"``."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def format_time(moment: datetime) -> str:
    """``2026-06-05 16:01:34`` in Beijing time."""
    return moment.astimezone(BEIJING).strftime(_TIME_FORMAT)


def format_time_ms(moment: datetime) -> str:
    """``2026-06-05 16:01:34.120``: ``gmt_refund`` carries milliseconds."""
    local = moment.astimezone(BEIJING)
    return local.strftime(_TIME_FORMAT) + f".{local.microsecond // 1000:03d}"


def parse_time(text: str) -> datetime:
    """Parse ``yyyy-MM-dd HH:mm:ss`` as Beijing time; ``ValueError`` if malformed."""
    return datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=BEIJING)
