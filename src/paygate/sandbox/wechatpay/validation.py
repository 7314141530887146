"""Validation of request bodies the way WeChat Pay answers it: ``400 PARAM_ERROR`` with
``输入源“/body/amount/total”映射到值字段“总金额”…`` messages and a ``detail`` naming the
location and the offending value."""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from .errors import WechatError, param_error

__all__ = [
    "OUT_TRADE_NO_PATTERN",
    "Fields",
    "PayRequest",
    "RefundRequest",
    "validate_pay",
    "validate_refund",
]

OUT_TRADE_NO_PATTERN = re.compile(r"[0-9A-Za-z_\-|*]{6,32}")
_OUT_REFUND_NO_CHARS = re.compile(r"[0-9A-Za-z_\-|*@]+")
_URL = re.compile(r"https?://[^\s/?#]+[^\s]*")

LABELS: dict[str, str] = {
    "appid": "应用ID",
    "mchid": "直连商户号",
    "description": "商品描述",
    "out_trade_no": "商户订单号",
    "notify_url": "通知地址",
    "time_expire": "交易结束时间",
    "attach": "附加数据",
    "goods_tag": "订单优惠标记",
    "amount": "订单金额",
    "amount/total": "总金额",
    "amount/currency": "货币类型",
    "amount/refund": "退款金额",
    "payer": "支付者",
    "payer/openid": "用户标识",
    "scene_info": "场景信息",
    "scene_info/payer_client_ip": "用户终端IP",
    "scene_info/h5_info": "H5场景信息",
    "scene_info/h5_info/type": "场景类型",
    "detail": "优惠功能",
    "settle_info": "结算信息",
    "out_refund_no": "商户退款单号",
    "transaction_id": "微信支付订单号",
    "reason": "退款原因",
    "funds_account": "退款资金来源",
    "mchid_query": "直连商户号",
}

_TYPE_NAMES = {str: "string", int: "integer", dict: "object"}
H5_TYPES = frozenset({"Wap", "iOS", "Android"})


class Fields:
    """Typed access to a JSON object, raising WeChat's PARAM_ERROR on every violation."""

    def __init__(self, data: Any, location: str = "body") -> None:
        if not isinstance(data, dict):
            raise param_error("请求体必须是JSON对象", location=location)
        self._data: dict[str, Any] = data
        self._location = location

    def _prefix(self, path: str) -> str:
        label = LABELS.get(path, path.rsplit("/", 1)[-1])
        return f"输入源“/{self._location}/{path}”映射到值字段“{label}”"

    def _raw(self, path: str) -> Any:
        node: Any = self._data
        for part in path.split("/"):
            if not isinstance(node, dict):
                return None
            node = node.get(part)
        return node

    def _get(self, path: str, kind: type, required: bool) -> Any:
        value = self._raw(path)
        if value is None:
            if required:
                raise param_error(self._prefix(path) + "必填性规则校验失败，此字段为必填项",
                                  location=self._location, field=path)  # fmt: skip
            return None
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise param_error(
                self._prefix(path) + f"类型规则校验失败，应为 {_TYPE_NAMES[kind]} 类型",
                location=self._location, field=path, value=value,
            )  # fmt: skip
        return value

    def string(
        self,
        path: str,
        *,
        required: bool = True,
        min_len: int = 1,
        max_len: int | None = None,
        pattern: re.Pattern[str] | None = None,
    ) -> str | None:
        value: str | None = self._get(path, str, required)
        if value is None:
            return None
        n = len(value)
        if n < min_len or (max_len is not None and n > max_len):
            bound, word = (min_len, "小于最小值") if n < min_len else (max_len, "大于最大值")
            raise param_error(
                self._prefix(path) + f"字符串规则校验失败，字符数 {n}，{word} {bound}",
                location=self._location, field=path, value=value,
            )  # fmt: skip
        if pattern is not None and not pattern.fullmatch(value):
            raise param_error(
                self._prefix(path) + "字符串规则校验失败，字符串不符合格式要求",
                location=self._location, field=path, value=value,
            )  # fmt: skip
        return value

    def integer(self, path: str, *, required: bool = True, minimum: int = 1) -> int | None:
        value: int | None = self._get(path, int, required)
        if value is not None and value < minimum:
            raise param_error(
                self._prefix(path) + f"数值规则校验失败，值 {value}，小于最小值 {minimum}",
                location=self._location, field=path, value=value,
            )  # fmt: skip
        return value

    def obj(self, path: str, *, required: bool = True) -> dict[str, Any] | None:
        value: dict[str, Any] | None = self._get(path, dict, required)
        return value

    def fail(self, path: str, rule: str, value: Any = None) -> WechatError:
        return param_error(self._prefix(path) + rule, location=self._location, field=path, value=value)


@dataclass(frozen=True)
class PayRequest:
    appid: str
    mchid: str
    description: str
    out_trade_no: str
    notify_url: str
    total: int
    currency: str
    attach: str | None
    time_expire: dt.datetime | None
    payer_openid: str | None
    payer_client_ip: str | None

    def fingerprint(self, trade_type: str) -> tuple[Any, ...]:
        """What must not change when an unpaid order is submitted again."""
        return (
            trade_type,
            self.appid,
            self.description,
            self.total,
            self.currency,
            self.attach,
            self.time_expire,
            self.payer_openid,
        )


def _currency(fields: Fields, path: str, *, required: bool = False) -> str:
    currency = fields.string(path, required=required, max_len=16) or "CNY"
    if currency != "CNY":
        raise fields.fail(path, "取值规则校验失败，境内商户仅支持人民币 CNY", currency)
    return currency


def _time_expire(fields: Fields) -> dt.datetime | None:
    text = fields.string("time_expire", required=False, max_len=64)
    if text is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None or "T" not in text:
        raise fields.fail("time_expire", "时间规则校验失败，应为 RFC 3339 格式", text)
    return moment


def validate_pay(data: Any, kind: str) -> PayRequest:
    """``kind`` is the URL's last segment: native, jsapi, app or h5."""
    fields = Fields(data)
    appid = fields.string("appid", max_len=32)
    mchid = fields.string("mchid", max_len=32)
    description = fields.string("description", max_len=127)
    out_trade_no = fields.string("out_trade_no", min_len=6, max_len=32)
    assert appid and mchid and description and out_trade_no
    if not OUT_TRADE_NO_PATTERN.fullmatch(out_trade_no):
        raise fields.fail("out_trade_no", "字符串规则校验失败，只能是数字、大小写字母_-|*", out_trade_no)
    time_expire = _time_expire(fields)
    attach = fields.string("attach", required=False, min_len=0, max_len=128)
    fields.string("goods_tag", required=False, max_len=32)
    notify_url = fields.string("notify_url", max_len=255)
    assert notify_url
    if not _URL.fullmatch(notify_url):
        raise fields.fail("notify_url", "字符串规则校验失败，应为 http(s) URL", notify_url)
    fields.obj("amount")
    total = fields.integer("amount/total")
    assert total is not None
    currency = _currency(fields, "amount/currency")
    fields.obj("detail", required=False)
    fields.obj("settle_info", required=False)
    payer_openid: str | None = None
    payer_client_ip: str | None = None
    if kind == "jsapi":
        fields.obj("payer")
        payer_openid = fields.string("payer/openid", max_len=128)
    else:
        fields.obj("payer", required=False)
    scene_required = kind == "h5"
    fields.obj("scene_info", required=scene_required)
    payer_client_ip = fields.string("scene_info/payer_client_ip", required=scene_required, max_len=45)
    if payer_client_ip is not None:
        try:
            ipaddress.ip_address(payer_client_ip)
        except ValueError:
            raise fields.fail(
                "scene_info/payer_client_ip", "字符串规则校验失败，应为 IP 地址", payer_client_ip
            ) from None
    if kind == "h5":
        fields.obj("scene_info/h5_info")
        h5_type = fields.string("scene_info/h5_info/type", max_len=32)
        if h5_type not in H5_TYPES:
            raise fields.fail(
                "scene_info/h5_info/type", "取值规则校验失败，应为 Wap、iOS 或 Android", h5_type
            )
    return PayRequest(
        appid=appid,
        mchid=mchid,
        description=description,
        out_trade_no=out_trade_no,
        notify_url=notify_url,
        total=total,
        currency=currency,
        attach=attach,
        time_expire=time_expire,
        payer_openid=payer_openid,
        payer_client_ip=payer_client_ip,
    )


@dataclass(frozen=True)
class RefundRequest:
    out_refund_no: str
    transaction_id: str | None
    out_trade_no: str | None
    refund: int
    total: int
    currency: str
    reason: str | None
    notify_url: str | None
    funds_account: str | None


def validate_refund(data: Any) -> RefundRequest:
    fields = Fields(data)
    transaction_id = fields.string("transaction_id", required=False, max_len=32)
    out_trade_no = fields.string("out_trade_no", required=False, max_len=32)
    if transaction_id is None and out_trade_no is None:
        raise param_error("transaction_id和out_trade_no必须二选一进行传参")
    out_refund_no = fields.string("out_refund_no", max_len=64, pattern=_OUT_REFUND_NO_CHARS)
    assert out_refund_no
    reason = fields.string("reason", required=False, min_len=0, max_len=80)
    notify_url = fields.string("notify_url", required=False, max_len=256)
    if notify_url is not None and not _URL.fullmatch(notify_url):
        raise fields.fail("notify_url", "字符串规则校验失败，应为 http(s) URL", notify_url)
    funds_account = fields.string("funds_account", required=False, max_len=32)
    if funds_account is not None and funds_account not in ("AVAILABLE", "UNSETTLED"):
        raise fields.fail("funds_account", "取值规则校验失败", funds_account)
    fields.obj("amount")
    refund = fields.integer("amount/refund")
    total = fields.integer("amount/total")
    assert refund is not None and total is not None
    currency = _currency(fields, "amount/currency", required=True)
    if refund > total:
        raise fields.fail("amount/refund", f"数值规则校验失败，值 {refund}，大于订单金额 {total}")
    return RefundRequest(
        out_refund_no=out_refund_no,
        transaction_id=transaction_id,
        out_trade_no=out_trade_no,
        refund=refund,
        total=total,
        currency=currency,
        reason=reason,
        notify_url=notify_url,
        funds_account=funds_account,
    )
