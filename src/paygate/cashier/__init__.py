"""The hosted cashier (收银台, R-API-9): checkouts an app opens with ``pay_type: "cashier"``
and the payer completes on paygate's own page. See :mod:`.checkouts`."""

from paygate.cashier.checkouts import (
    CASHIER_PAY_TYPE,
    Cashier,
    CheckoutCommand,
    CheckoutPage,
    CheckoutStatus,
)

__all__ = ["CASHIER_PAY_TYPE", "Cashier", "CheckoutCommand", "CheckoutPage", "CheckoutStatus"]
