"""R-PAY-3: explicit state machines; terminal states stay terminal; money counted once."""

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from paygate.domain.machine import IllegalTransition
from paygate.domain.refunds import REFUND_TERMINAL, REFUNDS, RefundEvent, RefundState
from paygate.domain.trades import TERMINAL, TRADES, TradeEvent, TradeState
from paygate.models import Trade
from paygate.payments.state_changes import Facts, apply_event

transition = TRADES.step
refund_transition = REFUNDS.step


def new_trade() -> Trade:
    return Trade(trade_no="T1", amount=1999, currency="CNY", state=TradeState.CREATED, refunded_amount=0)


#: an event together with what the channel said with it (a paid amount, its trade number)
steps = st.tuples(
    st.sampled_from(list(TradeEvent)),
    st.one_of(st.none(), st.integers(min_value=1, max_value=10**6)),
    st.one_of(st.none(), st.sampled_from(["CH-1", "CH-2"])),
)


@settings(max_examples=500)
@given(st.lists(steps, max_size=30))
def test_terminal_states_stay_terminal_and_money_is_counted_once(
    events: list[tuple[TradeEvent, int | None, str | None]],
) -> None:
    """Drives a real Trade through :func:`apply_event`, the one function services use to
    change a trade's state: once paid, the amount and time it recorded never change again,
    whatever arrives later; a channel trade number, once known, is never replaced."""
    trade = new_trade()
    now = datetime(2026, 12, 1, tzinfo=UTC)
    history = [trade.state]
    booked: tuple[int | None, datetime | None] | None = None
    channel_trade_no: str | None = None
    for i, (event, paid, channel_no) in enumerate(events):
        before = trade.state
        try:
            step = apply_event(trade, event, Facts(channel_no, paid), now + timedelta(seconds=i))
        except IllegalTransition:
            assert trade.state == before  # refused: nothing changes
            continue
        assert step.before == before and trade.state == step.after
        history.append(trade.state)
        if step.changed and step.after is TradeState.SUCCEEDED:
            assert booked is None, "money booked twice"
            assert trade.paid_amount == (paid if paid is not None else trade.amount)
            booked = (trade.paid_amount, trade.paid_at)
        if booked is not None:
            assert (trade.paid_amount, trade.paid_at) == booked
        if channel_trade_no is not None:
            assert trade.channel_trade_no == channel_trade_no
        channel_trade_no = trade.channel_trade_no
    first_terminal = next((i for i, s in enumerate(history) if s in TERMINAL), None)
    if first_terminal is not None:
        assert set(history[first_terminal:]) == {history[first_terminal]}
    assert (booked is not None) == (TradeState.SUCCEEDED in history)
    if TradeState.SUCCEEDED not in history:
        assert trade.paid_amount is None and trade.paid_at is None


@given(st.sampled_from(list(TradeState)), st.sampled_from(list(TradeEvent)))
def test_every_pair_is_either_allowed_or_refused_explicitly(state: TradeState, event: TradeEvent) -> None:
    try:
        step = transition(state, event)
    except IllegalTransition as exc:
        assert exc.state == state and exc.event == event
        return
    if state in TERMINAL:
        assert step.after == state  # a terminal state only acknowledges repeats


def test_a_timeout_never_fails_a_trade() -> None:
    assert transition(TradeState.CREATED, TradeEvent.UNCERTAIN).after == TradeState.UNKNOWN
    assert transition(TradeState.UNKNOWN, TradeEvent.UNCERTAIN).after == TradeState.UNKNOWN
    assert transition(TradeState.UNKNOWN, TradeEvent.PAID).after == TradeState.SUCCEEDED


def test_paid_after_closed_is_refused() -> None:
    try:
        transition(TradeState.CLOSED, TradeEvent.PAID)
    except IllegalTransition:
        pass
    else:
        raise AssertionError("a closed trade accepted a payment")


@settings(max_examples=300)
@given(
    st.lists(st.sampled_from(list(RefundEvent)), max_size=20),
    st.sampled_from([RefundState.PENDING_APPROVAL, RefundState.PROCESSING]),
)
def test_refund_terminal_states_stay_terminal(events: list[RefundEvent], start: RefundState) -> None:
    state = start.value
    reached: str | None = None
    for event in events:
        try:
            state = refund_transition(state, event).after
        except IllegalTransition:
            continue
        if reached is not None:
            assert state == reached
        if state in REFUND_TERMINAL:
            reached = state
