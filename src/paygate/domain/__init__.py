"""The domain's vocabulary: states, events and the transition tables that govern them
(R-PAY-3). Pure: no I/O, no framework; it imports nothing of paygate but ``kit``.

- :mod:`.machine`  a transition table and the one way to consult it
- :mod:`.trades`   trade and channel-attempt states
- :mod:`.refunds`  refund states
- :mod:`.inbox`    what became of an inbound channel notification
"""
