"""A state machine as a readable table. Every state change asks :meth:`StateMachine.step`;
an event the table does not list raises :class:`IllegalTransition`; an event that repeats
the current outcome maps a state to itself and is an acknowledged no-op."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

__all__ = ["IllegalTransition", "StateMachine", "Transition"]

S = TypeVar("S", bound=StrEnum)
E = TypeVar("E", bound=StrEnum)


class IllegalTransition(Exception):
    """The event is not allowed in the current state (e.g. *paid* on a closed trade)."""

    def __init__(self, state: str, event: str) -> None:
        super().__init__(f"{event!s} is not allowed in state {state!s}")
        self.state = state
        self.event = event


@dataclass(frozen=True)
class Transition(Generic[S]):
    before: S
    after: S

    @property
    def changed(self) -> bool:
        return self.before != self.after


class StateMachine(Generic[S, E]):
    def __init__(self, states: type[S], table: Mapping[tuple[S, E], S], terminal: frozenset[S]) -> None:
        self._states = states
        self._table = dict(table)
        self.terminal = terminal
        for (state, _), after in self._table.items():
            if state in terminal and after != state:  # a terminal state only acknowledges repeats
                raise ValueError(f"terminal state {state} may not become {after}")

    def step(self, state: S | str, event: E) -> Transition[S]:
        current = self._states(state)
        try:
            after = self._table[(current, event)]
        except KeyError:
            raise IllegalTransition(current, event) from None
        return Transition(current, after)

    def allows(self, state: S | str, event: E) -> bool:
        return (self._states(state), event) in self._table
