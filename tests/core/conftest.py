"""The core's tests run without sockets; this only puts the repository on sys.path."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `pytest` (unlike `python -m pytest`) does not put the repo on sys.path
    sys.path.insert(0, str(ROOT))
