"""Pay type → adapter, from configuration (R-API-5), and channel accounts as data.

One adapter instance per channel, built lazily from ``settings.adapters`` (``"module:Class"``)
and cached; pay types map to channels in ``settings.pay_types``.
"""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from paygate.channels.contract import ChannelAccount, ChannelAdapter
from paygate.kit.crypto import Secret, SecretBox
from paygate.kit.errors import ErrorCode, RequestError
from paygate.models import ChannelAccountRow

__all__ = ["AccountCodec", "ChannelRegistry", "PayType"]


@dataclass(frozen=True)
class PayType:
    name: str  # "alipay.page"
    channel: str  # "alipay"
    method: str  # "page"


class ChannelRegistry:
    def __init__(
        self,
        adapters: Mapping[str, str],
        pay_types: Mapping[str, str],
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._adapter_paths = dict(adapters)
        self._pay_types = dict(pay_types)
        self._http = http
        self._instances: dict[str, ChannelAdapter] = {}

    def pay_type(self, name: str) -> PayType:
        channel = self._pay_types.get(name)
        if channel is None or "." not in name:
            raise RequestError(f"unknown pay type {name!r}", code=ErrorCode.UNKNOWN_PAY_TYPE)
        method = name.split(".", 1)[1]
        adapter = self.adapter(channel)
        if method not in adapter.methods:
            raise RequestError(
                f"channel {channel} does not offer pay form {method!r}",
                code=ErrorCode.UNSUPPORTED_OPERATION,
            )
        return PayType(name=name, channel=channel, method=method)

    @property
    def pay_type_names(self) -> list[str]:
        return sorted(self._pay_types)

    @property
    def channels(self) -> list[str]:
        return sorted(self._adapter_paths)

    def adapter(self, channel: str) -> ChannelAdapter:
        instance = self._instances.get(channel)
        if instance is None:
            path = self._adapter_paths.get(channel)
            if path is None:
                raise RequestError(f"unknown channel {channel!r}", code=ErrorCode.UNKNOWN_PAY_TYPE)
            module_name, _, class_name = path.partition(":")
            cls = getattr(importlib.import_module(module_name), class_name)
            instance = cls(http=self._http)
            self._instances[channel] = instance
        return instance

    async def aclose(self) -> None:
        for adapter in self._instances.values():
            await adapter.aclose()
        self._instances.clear()


class AccountCodec:
    """Turns a channel-account row into a :class:`ChannelAccount` (secrets decrypted and
    wrapped), caching the result briefly; seals secrets for storage."""

    def __init__(self, box: SecretBox, public_base_url: str, ttl_seconds: float = 30.0) -> None:
        self._box = box
        self._public_base_url = public_base_url.rstrip("/")
        self._ttl = ttl_seconds
        self._cache: dict[int, tuple[float, Any, ChannelAccount]] = {}

    @staticmethod
    def _aad(channel: str, account_id_hint: str) -> str:
        return f"channel_account:{channel}:{account_id_hint}"

    def seal_secrets(self, channel: str, merchant_id: str, secrets: Mapping[str, str]) -> str:
        return self._box.seal(json.dumps(dict(secrets)), self._aad(channel, merchant_id))

    def notify_url(self, channel: str, account_id: int) -> str:
        return f"{self._public_base_url}/notify/{channel}/{account_id}"

    def return_url(self, channel: str, account_id: int) -> str:
        return f"{self._public_base_url}/return/{channel}/{account_id}"

    def to_account(self, row: ChannelAccountRow) -> ChannelAccount:
        stamp = (
            row.updated_at,
            row.secrets_sealed,
            row.enabled,
            row.gateway_url,
            row.merchant_id,
            repr(row.params),
            row.return_url,
            row.fee_rate_bp,
            row.timeout_seconds,
        )
        cached = self._cache.get(row.id)
        now = time.monotonic()
        if cached and cached[1] == stamp and now - cached[0] < self._ttl:
            return cached[2]
        secrets_json = self._box.open(row.secrets_sealed, self._aad(row.channel, row.merchant_id))
        secrets = {k: Secret(str(v)) for k, v in json.loads(secrets_json.reveal()).items()}
        account = ChannelAccount(
            id=row.id,
            channel=row.channel,
            name=row.name,
            merchant_id=row.merchant_id,
            gateway_url=row.gateway_url,
            secrets=secrets,
            params={k: str(v) for k, v in (row.params or {}).items()},
            notify_url=self.notify_url(row.channel, row.id),
            return_url=row.return_url or self.return_url(row.channel, row.id),
            fee_rate_bp=row.fee_rate_bp,
            timeout_seconds=row.timeout_seconds,
        )
        self._cache[row.id] = (now, stamp, account)
        return account
