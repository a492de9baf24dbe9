"""Waiting for something to become true in tests that talk to real processes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

Value = TypeVar("Value")


def eventually(condition: Callable[[], Value], timeout: float, every: float = 0.1, *,
               ignoring: tuple[type[BaseException], ...] = (), what: str = "") -> Value:
    """Poll `condition()` every `every` s until it returns something true, and return that.

    An exception of a type in `ignoring` counts as "not yet". After `timeout` seconds the test fails,
    saying `what` was awaited (or re-raising the last ignored exception, which says more).
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except ignoring:
            if time.monotonic() >= deadline:
                raise
        else:
            if value:
                return value
            if time.monotonic() >= deadline:
                raise AssertionError(f"{what or 'still not true'} after {timeout:g} s")
        time.sleep(every)
