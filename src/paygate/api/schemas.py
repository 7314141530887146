"""Request and response models of the internal API (R-API-2, R-API-3)."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator, model_validator
from pydantic_core import PydanticCustomError

T = TypeVar("T")

_ORDER_NO = r"^[A-Za-z0-9_\-.:]+$"
_URL = r"^https?://[^\s]+$"


def _holds_nul(value: Any) -> bool:
    """Whether a string anywhere in ``value`` (nested lists, dict keys and values) holds U+0000."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_holds_nul(v) for v in value)
    return False


class RequestModel(BaseModel):
    """Base of every request model: no string in it may hold U+0000.

    PostgreSQL's text types cannot store the NUL character (the insert fails, which was a
    500), and no field of ours has a use for it; so every backend refuses it the same way, on
    every field, before any other check: 400 ``INVALID_REQUEST`` naming the field.
    """

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if _holds_nul(value):
            raise PydanticCustomError("nul_character", "must not contain the NUL character (U+0000)")
        return value


class PayRequest(RequestModel):
    """One request model for every channel; the core is ``pay_type`` (channel.form)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "out_order_no": "ORDER-1001",
                    "pay_type": "alipay.qr",
                    "amount": 1999,
                    "currency": "CNY",
                    "subject": "Coffee beans 1kg",
                }
            ]
        },
    )

    out_order_no: str = Field(
        min_length=1, max_length=64, pattern=_ORDER_NO, description="The app's order number, unique per app."
    )
    pay_type: str = Field(min_length=3, max_length=32, description="e.g. alipay.page, alipay.qr")
    amount: StrictInt = Field(description="Minor units of currency (1999 = CNY 19.99).")
    currency: str = Field(default="CNY", description="ISO 4217 code.")
    subject: str = Field(min_length=1, max_length=256)
    description: str | None = Field(default=None, max_length=1024)
    expire_minutes: StrictInt | None = Field(default=None, description="Unpaid trades close after this.")
    notify_url: str | None = Field(default=None, max_length=512, pattern=_URL)
    return_url: str | None = Field(default=None, max_length=512, pattern=_URL)
    client_ip: str | None = Field(default=None, max_length=64)
    extra: dict[str, str | int | bool] = Field(
        default_factory=dict,
        max_length=20,
        description="Pay-form inputs: auth_code (alipay.barcode), buyer_id (alipay.jsapi), "
        "openid (wechat.jsapi), payment_method (stripe.card), form (true: an auto-submitting POST form).",
    )
    metadata: dict[str, str] = Field(default_factory=dict, max_length=20)


class TradeRefRequest(RequestModel):
    model_config = ConfigDict(extra="forbid")

    trade_no: str | None = Field(default=None, max_length=32)
    out_order_no: str | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _one_of(self) -> TradeRefRequest:
        if not self.trade_no and not self.out_order_no:
            raise ValueError("give trade_no or out_order_no")
        return self


class QueryRequest(TradeRefRequest):
    sync: StrictBool = Field(default=False, description="Ask the channel now (R-PAY-9).")


class PayAction(BaseModel):
    type: str = Field(description="redirect | form | qr_code | app | jsapi | none")
    url: str | None = None
    method: str | None = None
    form: str | None = None
    qr_code: str | None = None
    params: dict[str, Any] | None = None


class TradeData(BaseModel):
    trade_no: str | None = Field(
        description="null only in a cashier-mode answer, until the payer picks a pay type"
    )
    app_id: str
    out_order_no: str
    pay_type: str
    state: str = Field(description="created | pending | unknown | succeeded | failed | closed")
    amount: int
    currency: str
    subject: str
    paid_amount: int | None = None
    refunded_amount: int = Field(0, description="Refunds that succeeded, in minor units.")
    refund_status: str = Field("none", description="none | partially_refunded | fully_refunded")
    extra_paid_amount: int = Field(
        0, description="Payments beyond the one the trade kept (after its close, or a second one); refunded."
    )
    channel_trade_no: str | None = None
    expire_at: str | None = None
    paid_at: str | None = None
    closed_at: str | None = None
    created_at: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    action: PayAction | None = None
    refunds: list[RefundData] | None = Field(
        default=None, description="The trade's refunds (on /query/trade), oldest first."
    )


class RefundRequest(RequestModel):
    """Give money back (R-REF-1, R-REF-2). Name the trade by ``trade_no`` or ``out_order_no``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "out_order_no": "ORDER-1001",
                    "out_refund_no": "RF-1001-1",
                    "amount": 500,
                    "reason": "one item back",
                }
            ]
        },
    )

    trade_no: str | None = Field(default=None, max_length=32)
    out_order_no: str | None = Field(default=None, max_length=64)
    out_refund_no: str = Field(
        min_length=1, max_length=64, pattern=_ORDER_NO, description="The app's refund number, unique per app."
    )
    amount: StrictInt = Field(description="Minor units, at most what is left to refund.")
    currency: str | None = Field(default=None, description="The trade's currency (checked when given).")
    reason: str | None = Field(default=None, max_length=256)
    notify_url: str | None = Field(default=None, max_length=512, pattern=_URL)

    @model_validator(mode="after")
    def _one_of(self) -> RefundRequest:
        if not self.trade_no and not self.out_order_no:
            raise ValueError("give trade_no or out_order_no")
        return self


class RefundQueryRequest(RequestModel):
    model_config = ConfigDict(extra="forbid")

    refund_no: str | None = Field(default=None, max_length=32)
    out_refund_no: str | None = Field(default=None, max_length=64)
    sync: StrictBool = Field(default=False, description="Ask the channel now.")

    @model_validator(mode="after")
    def _one_of(self) -> RefundQueryRequest:
        if not self.refund_no and not self.out_refund_no:
            raise ValueError("give refund_no or out_refund_no")
        return self


class RefundData(BaseModel):
    refund_no: str
    out_refund_no: str
    trade_no: str
    out_order_no: str
    app_id: str
    amount: int
    currency: str
    state: str = Field(
        description="pending_approval | processing | unknown | succeeded | failed | rejected"
        " | awaiting_payout"
    )
    kind: str = Field(description="business | repeat_payment | paid_after_close")
    route: str = Field(description="original | manual")
    reason: str | None = None
    channel_refund_no: str | None = None
    failure_reason: str | None = None
    requested_by: str
    decided_by: str | None = None
    decision_reason: str | None = None
    payout_reference: str | None = None
    replaces_refund_no: str | None = None
    created_at: str | None = None
    refunded_at: str | None = None
    finished_at: str | None = None


class DecisionRequest(RequestModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=256, description="Why (kept with the refund).")


class PayoutRequest(RequestModel):
    model_config = ConfigDict(extra="forbid")

    reference: str = Field(min_length=1, max_length=128, description="The manual payout's reference.")


class OperatorRefundRequest(RefundRequest):
    """An operator asks for a refund on an app's behalf (four eyes: someone else decides it
    if it is held for approval)."""

    app_id: str = Field(min_length=1, max_length=32)


class RefundList(BaseModel):
    items: list[RefundData]


_DAY = r"^\d{4}-\d{2}-\d{2}$"


class BillQueryRequest(RequestModel):
    """``/query/bill``: the app's lines of a channel's bills of one day (R-API-1, R-REC-1)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"channel": "alipay", "bill_date": "2026-06-05", "limit": 100}]},
    )

    channel: str = Field(min_length=1, max_length=32, description="alipay | wechatpay | stripe")
    bill_date: str = Field(pattern=_DAY, description="The bill's day, YYYY-MM-DD (the channel's time zone).")
    after: StrictInt | str | None = Field(
        default=None,
        description="The `next` of the previous page, as given (a string of digits), or that number.",
    )
    limit: StrictInt = Field(default=100, ge=1, le=500)

    @field_validator("after")
    @classmethod
    def _cursor(cls, value: int | str | None) -> int | None:
        """A page cursor: the ``next`` string of the previous page, or the same number."""
        if isinstance(value, str):
            if not value.isascii() or not value.isdigit() or len(value) > 18:
                raise PydanticCustomError("cursor", "must be the `next` of the previous page")
            value = int(value)
        if value is not None and value < 0:
            raise PydanticCustomError("cursor", "must be the `next` of the previous page")
        return value


class SettleQueryRequest(RequestModel):
    """``/query/settle``: a channel's settlements of one day and the app's share (R-REC-4)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"channel": "wechatpay", "settle_date": "2026-06-05"}]},
    )

    channel: str = Field(min_length=1, max_length=32, description="alipay | wechatpay | stripe")
    settle_date: str = Field(pattern=_DAY, description="The settled day, YYYY-MM-DD.")


class ResolveRequest(RequestModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=512, description="Why (kept with the discrepancy).")


class Envelope(BaseModel, Generic[T]):
    errno: int = 0
    msg: str = "ok"
    data: T | None = None


class ErrorEnvelope(BaseModel):
    errno: int
    msg: str
    error: str = Field(description="Stable error code name, e.g. BAD_SIGNATURE")
    data: dict[str, Any] | None = None


TradeData.model_rebuild()
