"""WeChat Pay API v3 channel: :class:`WechatPayAdapter` (the contract), :class:`WechatPayClient`
(wire protocol, signing, verification), :mod:`.certificates` (platform certificates),
pure :mod:`.transformers` and :mod:`.bill` parsing, :mod:`.protocol` (signed strings,
AEAD, times)."""

from paygate.channels.wechatpay.adapter import WechatPayAdapter
from paygate.channels.wechatpay.client import WechatPayClient

__all__ = ["WechatPayAdapter", "WechatPayClient"]
