"""Stripe channel: :class:`StripeAdapter` (the contract), :class:`StripeClient` (wire
protocol, retries, error mapping), pure :mod:`.transformers`, :mod:`.amounts` and
:mod:`.bill` mapping, :mod:`.protocol` (form encoding, idempotency keys, webhook
signatures, masking) and :mod:`.lookup` (finding objects by paygate's numbers)."""

from paygate.channels.stripe.adapter import StripeAdapter
from paygate.channels.stripe.client import StripeClient

__all__ = ["StripeAdapter", "StripeClient"]
