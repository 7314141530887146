"""WeChat Pay's API operations, by resource: :mod:`.transactions` (pay, query, close, and
what the payer does), :mod:`.refunds`, :mod:`.certificates`; trade bills are in
:mod:`..bills`."""
