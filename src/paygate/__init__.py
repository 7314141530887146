"""paygate: a payment middle platform.

Business systems call one internal API (:mod:`paygate.api`) to take money through Alipay,
WeChat Pay, Stripe and more. The layers, from the outside in:

- ``api``: the two listeners (internal app API, public channel callbacks), request signing.
- ``payments``: the services that own trade state (pay, query, close, notifications).
- ``channels``: one typed contract and an adapter per channel (``channels/<name>/``).
- ``sandbox``: faithful local simulators of each channel (``sandbox/<name>/``).
- ``models`` / ``repositories``: storage, all SQL lives in repositories.
- ``kit``: shared primitives (money, errors, crypto, ids, masking, db).
"""

__version__ = "0.1.0"
