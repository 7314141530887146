"""The one way services call a channel: the registry picks the adapter, the guard runs the
call with its deadline and breaker (R-CH-2 "Context", R-CH-4). Services never hold an
adapter themselves."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from paygate.channels.contract import (
    Bill,
    ChannelAccount,
    CloseResult,
    CreatePayment,
    CreateResult,
    Notification,
    NotifyReply,
    Operation,
    PaymentStatusResult,
    PayoutReport,
    PayoutSource,
    RefundRequest,
    RefundResult,
    ReturnInfo,
)
from paygate.channels.registry import ChannelRegistry, PayType
from paygate.channels.resilience import ChannelGuard

__all__ = ["ChannelGateway"]


class ChannelGateway:
    def __init__(self, registry: ChannelRegistry, guard: ChannelGuard) -> None:
        self._registry = registry
        self._guard = guard

    # ------------------------------------------------------------------ local (no call)

    def pay_type(self, name: str) -> PayType:
        return self._registry.pay_type(name)

    def validate(self, pay_type: PayType, request: CreatePayment) -> None:
        """The adapter's own validation hook (R-API-6): ValueError with a message."""
        self._registry.adapter(pay_type.channel).validate(request)

    def is_local(self, pay_type: PayType) -> bool:
        """True when creating this pay form only signs locally (nothing is sent)."""
        return pay_type.method in self._registry.adapter(pay_type.channel).offline_methods

    def is_open(self, account_id: int) -> bool:
        """The account's circuit breaker is open (calls are refused for now)."""
        return self._guard.is_open(account_id)

    def confirms_notifications(self, channel: str) -> bool:
        """A claimed success must be read back from the channel before it is credited."""
        return self._registry.adapter(channel).confirms_notifications

    def parse_notification(
        self, account: ChannelAccount, headers: Mapping[str, str], body: bytes
    ) -> Notification:
        return self._registry.adapter(account.channel).parse_notification(account, headers, body)

    def notify_reply(self, channel: str, accepted: bool) -> NotifyReply:
        return self._registry.adapter(channel).notify_reply(accepted)

    def parse_return(self, account: ChannelAccount, query: Mapping[str, str]) -> ReturnInfo:
        return self._registry.adapter(account.channel).parse_return(account, query)

    # ------------------------------------------------------------------ channel calls

    async def create(self, account: ChannelAccount, request: CreatePayment) -> CreateResult:
        adapter = self._registry.adapter(account.channel)
        return await self._guard.call(
            account, Operation.CREATE, lambda: adapter.create_payment(account, request)
        )

    async def query(
        self, account: ChannelAccount, attempt_no: str, channel_trade_no: str | None
    ) -> PaymentStatusResult:
        adapter = self._registry.adapter(account.channel)
        return await self._guard.call(
            account, Operation.QUERY, lambda: adapter.query_payment(account, attempt_no, channel_trade_no)
        )

    async def close(
        self, account: ChannelAccount, attempt_no: str, channel_trade_no: str | None
    ) -> CloseResult:
        adapter = self._registry.adapter(account.channel)
        return await self._guard.call(
            account, Operation.CLOSE, lambda: adapter.close_payment(account, attempt_no, channel_trade_no)
        )

    async def refund(self, account: ChannelAccount, request: RefundRequest) -> RefundResult:
        adapter = self._registry.adapter(account.channel)
        return await self._guard.call(account, Operation.REFUND, lambda: adapter.refund(account, request))

    async def query_refund(
        self,
        account: ChannelAccount,
        refund_no: str,
        attempt_no: str,
        *,
        channel_trade_no: str | None = None,
        channel_refund_no: str | None = None,
    ) -> RefundResult:
        adapter = self._registry.adapter(account.channel)
        return await self._guard.call(
            account,
            Operation.QUERY_REFUND,
            lambda: adapter.query_refund(account, refund_no, attempt_no, channel_trade_no, channel_refund_no),
        )

    async def bill(self, account: ChannelAccount, bill_date: date) -> Bill:
        adapter = self._registry.adapter(account.channel)
        return await self._guard.call(
            account, Operation.BILL, lambda: adapter.download_bill(account, bill_date)
        )

    async def payouts(self, account: ChannelAccount, day: date) -> list[PayoutReport]:
        """The channel's settlements created on ``day`` (R-REC-4); none for a channel whose
        settlement figures are in its bill (Alipay, WeChat Pay)."""
        adapter = self._registry.adapter(account.channel)
        if not isinstance(adapter, PayoutSource):
            return []
        return await self._guard.call(account, Operation.BILL, lambda: adapter.list_payouts(account, day))
