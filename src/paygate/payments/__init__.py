"""Payments: the services that own a trade's state (R-PAY-*).

Small modules, each given what it needs in :mod:`paygate.bootstrap`, depending downward
only::

    creating ──▶ routing            pay: check, route, create at the channel, record
        │  └───▶ outcomes           channel answers → state-machine events, API errors
        ├──────▶ state_changes      the one function that changes a trade's state
        └──────▶ after_commit       cache invalidation and after_pay hooks, once per change
    querying / closing / syncing    read paygate's state; ask the channel; close
    trade_view, query_cache         what apps see, and the short cache in front of it

Inbound channel notifications and returns are :mod:`paygate.callbacks`.
"""
