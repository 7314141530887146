"""ORM models, one module per aggregate. Relationships are not used for loading: every
query is explicit in a repository (nothing lazy can fire a hidden query)."""

from paygate.models.apps import App, AppChannelAccount
from paygate.models.channels import ChannelAccountRow
from paygate.models.logs import CallLog, ChannelNotification, TradeLog
from paygate.models.messaging import OutboxMessage, RequestNonce
from paygate.models.operators import Operator, OperatorAction
from paygate.models.trades import ChannelAttempt, ExtraPayment, Refund, Trade

__all__ = [
    "App",
    "AppChannelAccount",
    "CallLog",
    "ChannelAccountRow",
    "ChannelAttempt",
    "ChannelNotification",
    "ExtraPayment",
    "Operator",
    "OperatorAction",
    "OutboxMessage",
    "Refund",
    "RequestNonce",
    "Trade",
    "TradeLog",
]
