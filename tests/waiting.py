"""Waiting for something to become true in tests that talk to real processes."""

from __future__ import annotations

import time
from collections.abc import Callable


def eventually(condition: Callable[[], bool], timeout: float, every: float = 0.1) -> None:
    """Return once `condition()` holds (polling every `every` s); fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"still not true after {timeout:g} s"
        time.sleep(every)
