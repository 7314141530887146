"""ORM models, one module per aggregate. Relationships are not used for loading: every
query is explicit in a repository (nothing lazy can fire a hidden query)."""

from paygate.models.apps import App, AppChannelAccount
from paygate.models.cashier import Checkout, ConsoleSession
from paygate.models.channels import ChannelAccountRow
from paygate.models.jobs import ScheduledJob
from paygate.models.logs import CallLog, ChannelNotification, TradeLog
from paygate.models.messaging import DeliveryAttempt, EventDelivery, OutboxMessage, RequestNonce
from paygate.models.operators import Operator, OperatorAction
from paygate.models.reconciliation import BillLineRow, Discrepancy, ReconRun, Settlement, StagedLine
from paygate.models.trades import ChannelAttempt, ExtraPayment, Refund, Trade

__all__ = [
    "App",
    "AppChannelAccount",
    "BillLineRow",
    "CallLog",
    "ChannelAccountRow",
    "ChannelAttempt",
    "ChannelNotification",
    "Checkout",
    "ConsoleSession",
    "DeliveryAttempt",
    "Discrepancy",
    "EventDelivery",
    "ExtraPayment",
    "Operator",
    "OperatorAction",
    "OutboxMessage",
    "ReconRun",
    "Refund",
    "RequestNonce",
    "ScheduledJob",
    "Settlement",
    "StagedLine",
    "Trade",
    "TradeLog",
]
