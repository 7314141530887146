"""Alipay's OpenAPI methods, by resource: :mod:`.trades` (create, pay, query, close,
cancel) and :mod:`.refunds` (refund, refund query); the bill URL is in :mod:`..bills`."""
