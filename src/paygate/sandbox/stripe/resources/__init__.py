"""Stripe's API resources: :mod:`.payment_intents` (with :mod:`.payments`, what confirming
does), :mod:`.payment_methods` (test cards), :mod:`.charges`, :mod:`.refunds`,
:mod:`.events` (and webhook endpoints), :mod:`.balance` (balance, balance transactions,
payouts) and :mod:`.payouts` (sweeping the balance to the bank)."""
