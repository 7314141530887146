"""The channels paygate knows — the one place a channel is registered (R-API-5, R-CH-6).

Each entry names the channel's adapter (what production uses), the prefix of its pay types
(``wechat`` → ``wechat.native``, ``wechat.jsapi`` …; the methods come from the adapter), its
sandbox (what ``make run`` and the tests talk to), and how the sandbox's demo merchant
becomes a paygate channel account. This module sits above both ``channels`` and ``sandbox``:
they never import each other.

Adding a channel: write ``channels/<name>/`` (contract) and ``sandbox/<name>/`` (simulator),
then add one :class:`ChannelEntry` here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from paygate.channels.registry import AdapterEntry

__all__ = ["CHANNELS", "ChannelEntry", "DemoAccount", "adapter_entries", "enabled", "sandbox_classes"]


@dataclass(frozen=True)
class DemoAccount:
    """A sandbox merchant's credentials, in the shape of a paygate channel account."""

    merchant_id: str
    gateway_url: str
    secrets: Mapping[str, str]
    params: Mapping[str, str] = field(default_factory=dict)
    #: the fee the sandbox charges: ``fee_rate_bp`` of the amount plus ``fee_fixed`` minor
    #: units of ``fee_currency`` per payment (all 0 / None: no fee check)
    fee_rate_bp: int = 0
    fee_fixed: int = 0
    fee_currency: str | None = None


@dataclass(frozen=True)
class ChannelEntry:
    name: str
    adapter: str  # "module:Class"
    pay_type_prefix: str
    sandbox: str  # "module:Class"
    demo_account: Callable[[Mapping[str, Any]], DemoAccount]

    @property
    def adapter_entry(self) -> AdapterEntry:
        return AdapterEntry(self.name, self.adapter, self.pay_type_prefix)


def _alipay(creds: Mapping[str, Any]) -> DemoAccount:
    return DemoAccount(
        merchant_id=creds["app_id"],
        gateway_url=creds["gateway_url"],
        secrets={
            "app_private_key": creds["app_private_key"],
            "alipay_public_key": creds["alipay_public_key"],
        },
        params={"seller_id": creds["seller_id"], "sign_type": "RSA2"},
        fee_rate_bp=60,
    )


def _wechatpay(creds: Mapping[str, Any]) -> DemoAccount:
    return DemoAccount(
        merchant_id=creds["mchid"],
        gateway_url=creds["base_url"],
        secrets={
            "merchant_private_key": creds["merchant_private_key"],
            "apiv3_key": creds["apiv3_key"],
            "platform_public_key": creds["platform_public_key"],
        },
        params={
            "appid": creds["appid"],
            "merchant_serial_no": creds["merchant_serial_no"],
            "platform_public_key_id": creds["platform_public_key_id"],
        },
        fee_rate_bp=60,
    )


def _stripe(creds: Mapping[str, Any]) -> DemoAccount:
    return DemoAccount(
        merchant_id="acct_sandbox",
        gateway_url=creds["api_base"],
        secrets={"secret_key": creds["secret_key"], "webhook_secret": creds["webhook_secret"]},
        # the sandbox's card pricing on a USD account: 2.9 % + 30¢. Its charges in other
        # currencies have other fixed fees (EUR 25, GBP 20 …; JPY 3.6 %): not checked
        fee_rate_bp=290,
        fee_fixed=30,
        fee_currency="USD",
    )


CHANNELS: Final[tuple[ChannelEntry, ...]] = (
    ChannelEntry(
        "alipay",
        "paygate.channels.alipay.adapter:AlipayAdapter",
        "alipay",
        "paygate.sandbox.alipay:AlipaySandbox",
        _alipay,
    ),
    ChannelEntry(
        "stripe",
        "paygate.channels.stripe.adapter:StripeAdapter",
        "stripe",
        "paygate.sandbox.stripe:StripeSandbox",
        _stripe,
    ),
    ChannelEntry(
        "wechatpay",
        "paygate.channels.wechatpay.adapter:WechatPayAdapter",
        "wechat",
        "paygate.sandbox.wechatpay:WechatPaySandbox",
        _wechatpay,
    ),
)


def enabled(names: Iterable[str] | None) -> list[ChannelEntry]:
    """The catalog's entries, restricted to ``names`` when given (unknown names refused)."""
    if names is None:
        return list(CHANNELS)
    wanted = list(names)
    known = {e.name: e for e in CHANNELS}
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise ValueError(f"unknown channel(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return [known[n] for n in wanted]


def adapter_entries(names: Iterable[str] | None = None) -> list[AdapterEntry]:
    return [e.adapter_entry for e in enabled(names)]


def sandbox_classes(names: Iterable[str] | None = None) -> dict[str, str]:
    return {e.name: e.sandbox for e in enabled(names)}
