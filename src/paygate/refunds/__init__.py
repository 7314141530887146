"""Refunds (R-REF-1..5): money going back to the payer — partial and repeated, safe under
concurrency, synchronous or asynchronous per channel, with approval by an operator.

::

    creating ──▶ approval            a request: idempotency, money rules, approval rules
        └──────▶ sending             back along the payment's route; the answer recorded
    deciding                         approve / reject (four eyes), manual payouts
    syncing                          ask the channel; re-send a refund it never received
    notifications                    a verified refund notification, applied
    state_changes                    the one function that changes a refund's state
    querying, views, commands        what apps and operators see
"""
