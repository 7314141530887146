"""What apps and operators see of a refund (the ``data`` of /refund and /query/refund): the
view lives with the trade's (:mod:`paygate.payments.trade_view`), which shows its refunds."""

from __future__ import annotations

from paygate.payments.trade_view import RefundView, refund_view

__all__ = ["RefundView", "refund_view"]
