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
    trade_no: str
    app_id: str
    out_order_no: str
    pay_type: str
    state: str = Field(description="created | pending | unknown | succeeded | failed | closed")
    amount: int
    currency: str
    subject: str
    paid_amount: int | None = None
    refunded_amount: int = 0
    channel_trade_no: str | None = None
    expire_at: str | None = None
    paid_at: str | None = None
    closed_at: str | None = None
    created_at: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    action: PayAction | None = None


class Envelope(BaseModel, Generic[T]):
    errno: int = 0
    msg: str = "ok"
    data: T | None = None


class ErrorEnvelope(BaseModel):
    errno: int
    msg: str
    error: str = Field(description="Stable error code name, e.g. BAD_SIGNATURE")
    data: dict[str, Any] | None = None
