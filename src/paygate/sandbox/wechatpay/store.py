"""What one WeChat Pay sandbox instance holds, passed explicitly to each module (no
globals): its orders and refunds (indexed the ways the API and the control API look them
up), the merchants and platform keys it knows, the bill files it rendered, and the harness
it runs on."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from paygate.sandbox.harness import Harness

from .keys import Merchant, Platform
from .state import CST, Refund, Trade

__all__ = ["BillFile", "WechatStore"]


@dataclass(frozen=True)
class BillFile:
    mchid: str
    content: bytes  # as served (gzip-compressed when tar_type=GZIP)
    expires_at: float  # loop time


@dataclass
class WechatStore:
    harness: Harness
    platform: Platform
    merchants: dict[str, Merchant]
    trades: dict[tuple[str, str], Trade] = field(default_factory=dict)
    by_transaction_id: dict[str, Trade] = field(default_factory=dict)
    by_token: dict[str, Trade] = field(default_factory=dict)
    by_prepay_id: dict[str, Trade] = field(default_factory=dict)
    refunds: dict[tuple[str, str], Refund] = field(default_factory=dict)
    bills: dict[str, BillFile] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        """Where the API lives: ``config.base_url + "/wechatpay"``."""
        return self.harness.public_url

    def now(self) -> datetime:
        """Sandbox time in Beijing time, to the second (WeChat stamps no fractions)."""
        return self.harness.clock.now().astimezone(CST).replace(microsecond=0)

    def add_trade(self, trade: Trade) -> None:
        self.trades[(trade.mchid, trade.out_trade_no)] = trade
        self.by_token[trade.token] = trade
        self.by_prepay_id[trade.prepay_id] = trade

    def index_transaction(self, trade: Trade) -> None:
        if trade.transaction_id is not None:
            self.by_transaction_id[trade.transaction_id] = trade

    def trade(self, mchid: str, out_trade_no: str) -> Trade | None:
        return self.trades.get((mchid, out_trade_no))

    def trades_by_out_trade_no(self, out_trade_no: str) -> list[Trade]:
        return [t for (_, otn), t in self.trades.items() if otn == out_trade_no]

    def add_refund(self, refund: Refund) -> None:
        self.refunds[(refund.trade.mchid, refund.out_refund_no)] = refund
        refund.trade.refunds.append(refund)

    def refund(self, mchid: str, out_refund_no: str) -> Refund | None:
        return self.refunds.get((mchid, out_refund_no))

    def refunds_by_out_refund_no(self, out_refund_no: str) -> list[Refund]:
        return [r for (_, orn), r in self.refunds.items() if orn == out_refund_no]
