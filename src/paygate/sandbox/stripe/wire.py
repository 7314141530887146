"""Stripe's wire rules: form encoding, JSON, identifiers and the webhook signature.

**Form encoding** — bracket keys (``a[b][0]=x``) to nested values and back.

Stripe's v1 API takes ``application/x-www-form-urlencoded`` bodies whose keys address
nested hashes and arrays: ``metadata[order_id]=o1``, ``payment_method_types[0]=card``,
``expand[]=latest_charge``. Decoding yields nested ``dict``s of strings; an array arrives
as a dict keyed by decimal indices (``{"0": "card"}``) or, for ``[]`` segments, as a list.
Whether a hash keyed by indices *is* an array depends on the parameter, so endpoints call
:func:`as_list` where Stripe expects one (as Stripe's own coercion does).

**Identifiers** look like Stripe's: a prefix and 24 base-62 characters (``pi_3Mtw…``).

**Webhook signature** — ``Stripe-Signature: t=<unix>,v1=<hex>``, where ``v1`` is
HMAC-SHA256 of ``f"{t}.{payload}"`` keyed with the whole ``whsec_…`` string; the timestamp
is real time (receivers refuse one more than five minutes old).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import string
import time
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

from paygate.kit.crypto import Secret, hmac_sha256_hex

__all__ = [
    "FormError",
    "as_list",
    "client_secret",
    "decode",
    "derived_id",
    "dump_json",
    "encode",
    "encode_pairs",
    "listify",
    "new_id",
    "request_id",
    "signature_header",
]

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")


class FormError(ValueError):
    """A body whose keys contradict each other (``a=1&a[b]=2``)."""

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.param = param


def _split(key: str) -> list[str]:
    match = _KEY.match(key)
    if match is None:
        return [key]
    return [match.group(1), *_SEGMENT.findall(match.group(2))]


def _assign(root: dict[str, Any], path: list[str], value: str, key: str) -> None:
    node: Any = root
    for depth, segment in enumerate(path):
        last = depth == len(path) - 1
        following = None if last else path[depth + 1]
        child_factory: Any = list if following == "" else dict
        if isinstance(node, list):
            if segment != "":
                raise FormError(f"Invalid array: {key}", key)
            if last:
                node.append(value)
                return
            # ``a[][b]=1`` starts a new element unless the last one still lacks ``b``.
            nxt = path[depth + 1]
            if node and isinstance(node[-1], dict) and nxt not in node[-1]:
                node = node[-1]
            else:
                node.append(child_factory())
                node = node[-1]
            continue
        if segment == "":
            raise FormError(f"Invalid hash: {key}", key)
        if last:
            if isinstance(node.get(segment), dict | list):
                raise FormError(f"Invalid hash: {key}", key)
            node[segment] = value
            return
        existing = node.get(segment)
        if existing is None:
            existing = node[segment] = child_factory()
        elif not isinstance(existing, dict | list):
            raise FormError(f"Invalid hash: {key}", key)
        node = existing


def decode(body: str | bytes) -> dict[str, Any]:
    """Decode a form body or query string into nested dicts (and ``[]`` lists) of strings."""
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    result: dict[str, Any] = {}
    for key, value in parse_qsl(text, keep_blank_values=True):
        _assign(result, _split(key), value, key)
    return result


def _is_index_hash(value: Mapping[str, Any]) -> bool:
    return bool(value) and all(k.isdigit() for k in value)


def as_list(value: Any) -> list[Any] | None:
    """The array Stripe sees in ``value`` (a list or a hash keyed by indices), else None."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict) and _is_index_hash(value):
        return [value[k] for k in sorted(value, key=int)]
    return None


def listify(value: Any) -> Any:
    """Recursively turn every hash keyed only by indices into a list (for round trips)."""
    if isinstance(value, dict):
        items = {k: listify(v) for k, v in value.items()}
        return as_list(items) if _is_index_hash(items) else items
    if isinstance(value, list):
        return [listify(v) for v in value]
    return value


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def encode_pairs(params: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    """Flatten nested params into bracket keys, arrays indexed (``a[0]``), None skipped."""
    for key, value in params.items():
        name = f"{prefix}[{key}]" if prefix else str(key)
        if value is None:
            continue
        if isinstance(value, Mapping):
            yield from encode_pairs(value, name)
        elif isinstance(value, list | tuple):
            yield from encode_pairs({str(i): v for i, v in enumerate(value)}, name)
        else:
            yield name, _scalar(value)


def encode(params: Mapping[str, Any]) -> str:
    return urlencode(list(encode_pairs(params)))


def dump_json(value: Any) -> bytes:
    """Pretty-printed JSON, as Stripe answers and sends webhooks."""
    return json.dumps(value, indent=2, ensure_ascii=False).encode()


# -- identifiers ------------------------------------------------------------------------

_ALPHABET = string.ascii_letters + string.digits


def _random(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_id(prefix: str) -> str:
    """``pi_3MtwBwLkdIwHu7ix28a3tqPa``: a prefix and 24 base-62 characters, like Stripe."""
    return f"{prefix}_{_random(24)}"


def derived_id(prefix: str, seed: str) -> str:
    """An id of Stripe's shape that is always the same for ``seed`` (an object the sandbox
    shows without storing it, e.g. a duplicated balance transaction, keeps its id)."""
    number = int.from_bytes(hashlib.sha256(seed.encode()).digest(), "big")
    chars = []
    for _ in range(24):
        number, digit = divmod(number, len(_ALPHABET))
        chars.append(_ALPHABET[digit])
    return f"{prefix}_{''.join(chars)}"


def client_secret(intent_id: str) -> str:
    return f"{intent_id}_secret_{_random(25)}"


def request_id() -> str:
    return f"req_{_random(14)}"


# -- webhook signature -------------------------------------------------------------------


def signature_header(payload: str, secret: Secret, timestamp: int | None = None) -> str:
    """``t=…,v1=…`` for ``payload`` (signed now unless ``timestamp`` is given)."""
    t = int(time.time()) if timestamp is None else timestamp
    v1 = hmac_sha256_hex(secret.reveal().encode(), f"{t}.{payload}".encode())
    return f"t={t},v1={v1}"
