"""Pay type → adapter, from configuration (R-API-5).

One adapter instance per channel, built lazily from its ``"module:Class"`` path and cached.
A pay type is ``<prefix>.<method>`` (``wechat.native``): the prefix names the channel, the
method is one of the pay forms the adapter offers (``adapter.methods``).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass

import httpx

from paygate.channels.contract import ChannelAdapter
from paygate.kit.errors import ErrorCode, RequestError

__all__ = ["AdapterEntry", "ChannelRegistry", "PayType"]


@dataclass(frozen=True)
class AdapterEntry:
    channel: str  # "wechatpay"
    adapter: str  # "paygate.channels.wechatpay.adapter:WechatPayAdapter"
    pay_type_prefix: str  # "wechat" → pay types "wechat.native", "wechat.jsapi" ...


@dataclass(frozen=True)
class PayType:
    name: str  # "alipay.page"
    channel: str  # "alipay"
    method: str  # "page"


class ChannelRegistry:
    def __init__(self, entries: Iterable[AdapterEntry], http: httpx.AsyncClient | None = None) -> None:
        self._entries = {e.channel: e for e in entries}
        self._by_prefix = {e.pay_type_prefix: e.channel for e in self._entries.values()}
        self._http = http
        self._instances: dict[str, ChannelAdapter] = {}

    def pay_type(self, name: str) -> PayType:
        prefix, dot, method = name.partition(".")
        channel = self._by_prefix.get(prefix)
        if channel is None or not dot:
            raise RequestError(f"unknown pay type {name!r}", code=ErrorCode.UNKNOWN_PAY_TYPE)
        if method not in self.adapter(channel).methods:
            raise RequestError(f"unknown pay type {name!r}", code=ErrorCode.UNKNOWN_PAY_TYPE)
        return PayType(name=name, channel=channel, method=method)

    @property
    def pay_type_names(self) -> list[str]:
        return sorted(
            f"{e.pay_type_prefix}.{method}"
            for e in self._entries.values()
            for method in self.adapter(e.channel).methods
        )

    @property
    def channels(self) -> list[str]:
        return sorted(self._entries)

    def adapter(self, channel: str) -> ChannelAdapter:
        instance = self._instances.get(channel)
        if instance is None:
            entry = self._entries.get(channel)
            if entry is None:
                raise RequestError(f"unknown channel {channel!r}", code=ErrorCode.UNKNOWN_CHANNEL)
            module_name, _, class_name = entry.adapter.partition(":")
            cls = getattr(importlib.import_module(module_name), class_name)
            instance = cls(http=self._http)
            self._instances[channel] = instance
        return instance

    async def aclose(self) -> None:
        for adapter in self._instances.values():
            await adapter.aclose()
        self._instances.clear()
