"""Fault points for crash tests: `RECARGA_FAULTS=coordinator.after_decide` makes the server SIGKILL itself there.

Read at each point (not at import), so a restarted server without the
variable runs normally. Never set in production; the launcher never sets it.
"""

from __future__ import annotations

import os
import signal


def fault(point: str) -> None:
    """Kill this process with SIGKILL if `point` is listed in RECARGA_FAULTS."""
    if point in os.environ.get("RECARGA_FAULTS", "").split(","):
        os.kill(os.getpid(), signal.SIGKILL)
