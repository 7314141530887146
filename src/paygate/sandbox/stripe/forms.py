"""Stripe's form encoding: bracket keys (``a[b][0]=x``) to nested values and back.

Stripe's v1 API takes ``application/x-www-form-urlencoded`` bodies whose keys address
nested hashes and arrays: ``metadata[order_id]=o1``, ``payment_method_types[0]=card``,
``expand[]=latest_charge``. Decoding yields nested ``dict``s of strings; an array arrives
as a dict keyed by decimal indices (``{"0": "card"}``) or, for ``[]`` segments, as a list.
Whether a hash keyed by indices *is* an array depends on the parameter, so endpoints call
:func:`as_list` where Stripe expects one (as Stripe's own coercion does).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

__all__ = ["FormError", "as_list", "decode", "encode", "encode_pairs", "listify"]

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
