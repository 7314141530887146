"""Failpoints: named places where a process can be told to die at once (SIGKILL), so that
crash-safety tests stop a real process exactly between two steps (e.g. after a dispatcher
committed its claim and before it sent anything). Off unless ``PAYGATE_FAILPOINTS`` names
them; nothing else reads them."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterable

__all__ = ["Failpoints"]


class Failpoints:
    def __init__(self, names: Iterable[str] = ()) -> None:
        self._names = frozenset(names)

    def hit(self, name: str) -> None:
        """Die here, now, if ``name`` was armed."""
        if name in self._names:
            os.kill(os.getpid(), signal.SIGKILL)
