"""Alipay OpenAPI channel: :class:`AlipayAdapter` (the contract), :class:`AlipayClient`
(wire protocol), pure :mod:`.transformers` and :mod:`.bill` parsing, :mod:`.protocol`
(canonical strings, response extraction)."""

from paygate.channels.alipay.adapter import AlipayAdapter
from paygate.channels.alipay.client import AlipayClient

__all__ = ["AlipayAdapter", "AlipayClient"]
