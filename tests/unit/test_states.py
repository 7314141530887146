"""R-PAY-3: explicit state machines; terminal states stay terminal; money counted once."""

from hypothesis import given, settings
from hypothesis import strategies as st

from paygate.payments.states import (
    REFUND_TERMINAL,
    TERMINAL,
    IllegalTransition,
    RefundEvent,
    RefundState,
    TradeEvent,
    TradeState,
    refund_transition,
    transition,
)


def run(events: list[TradeEvent]) -> tuple[list[str], int]:
    """Drive a trade through events as the services do; count how often money is booked."""
    state = TradeState.CREATED.value
    history = [state]
    booked = 0
    for event in events:
        try:
            step = transition(state, event)
        except IllegalTransition:
            continue  # refused: nothing changes
        if step.changed and step.after == TradeState.SUCCEEDED:
            booked += 1
        state = step.after
        history.append(state)
    return history, booked


@settings(max_examples=500)
@given(st.lists(st.sampled_from(list(TradeEvent)), max_size=30))
def test_terminal_states_stay_terminal_and_money_is_counted_once(events: list[TradeEvent]) -> None:
    history, booked = run(events)
    first_terminal = next((i for i, s in enumerate(history) if s in TERMINAL), None)
    if first_terminal is not None:
        assert set(history[first_terminal:]) == {history[first_terminal]}
    assert booked <= 1
    assert booked == (1 if TradeState.SUCCEEDED.value in history else 0)


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
