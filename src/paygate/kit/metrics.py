"""Prometheus metrics (served at ``/metrics`` on the internal listener). Metric objects are
process-wide by prometheus-client's design; they hold counts, never configuration."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

API_REQUESTS = Counter("paygate_api_requests_total", "API calls", ["endpoint", "errno"])
API_LATENCY = Histogram("paygate_api_latency_seconds", "API latency", ["endpoint"])
API_FAST_LANE = Counter(
    "paygate_api_fast_lane_total",
    "Signed POSTs answered by the fast lane (served) or handed to the routed path (routed: "
    "no Content-Length, or a body the model refuses)",
    ["outcome"],
)
TRADE_TRANSITIONS = Counter("paygate_trade_transitions_total", "Trade state changes", ["channel", "to_state"])
REFUND_TRANSITIONS = Counter(
    "paygate_refund_transitions_total", "Refund state changes", ["channel", "to_state"]
)
CHANNEL_CALLS = Counter("paygate_channel_calls_total", "Channel calls", ["channel", "operation", "outcome"])
CHANNEL_LATENCY = Histogram(
    "paygate_channel_latency_seconds", "Channel call latency", ["channel", "operation"]
)
CHANNEL_IN_FLIGHT = Gauge(
    "paygate_channel_in_flight", "Channel calls in flight per account (bulkhead)", ["channel", "account"]
)
CHANNEL_BREAKER_OPEN = Gauge(
    "paygate_channel_breaker_open", "1 while the account's circuit breaker is open", ["channel", "account"]
)
NOTIFICATIONS = Counter(
    "paygate_channel_notifications_total", "Channel notifications", ["channel", "outcome"]
)
ALERTS = Counter("paygate_alerts_total", "Conditions that need a person", ["kind", "channel"])
LOG_DROPPED = Counter("paygate_call_log_dropped_total", "Call-log rows dropped (queue full or DB error)")
COMPENSATION_CHECKS = Counter(
    "paygate_compensation_checks_total",
    "Checks of open trades and refunds at the channel",
    ["kind", "channel"],
)
EVENT_DELIVERIES = Counter(
    "paygate_event_deliveries_total", "Attempts to deliver an event to an app (R-NTF-5)", ["outcome"]
)
EVENT_DELIVERY_LATENCY = Histogram(
    "paygate_event_delivery_latency_seconds", "How long apps take to answer a notification"
)
EVENTS_PUBLISHED = Counter(
    "paygate_events_published_total", "Events offered to the message broker (R-NTF-6)", ["outcome"]
)
JOB_RUNS = Counter("paygate_job_runs_total", "Rounds of background jobs", ["job", "outcome"])
TRADE_OUTCOMES = Counter(
    "paygate_trade_outcomes_total",
    "Trades that reached a final state, per channel and pay type (R-OPS-1)",
    ["channel", "pay_type", "state"],
)
EVENT_BACKLOG = Gauge(
    "paygate_event_backlog", "Event deliveries to apps waiting to be sent (read from the database at scrape)"
)
EVENT_DEAD_LETTERS = Gauge(
    "paygate_event_dead_letters", "Event deliveries that gave up after every attempt (read at scrape)"
)
RECON_OPEN_DISCREPANCIES = Gauge(
    "paygate_recon_open_discrepancies",
    "Reconciliation discrepancies open for a person, per channel (read from the database at scrape)",
    ["channel"],
)
CHANNEL_BREAKER_STATE = Gauge(
    "paygate_channel_breaker_state",
    "1 for the state each channel account's circuit breaker is in (closed, open, half_open)",
    ["breaker", "state"],
)
CASHIER_CHECKOUTS = Counter(
    "paygate_cashier_checkouts_total", "Checkouts opened on the hosted cashier (R-API-9)", ["outcome"]
)
