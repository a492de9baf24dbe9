"""Fixtures shared by the event-log tests: a store of each kind, and event builders."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `pytest` (unlike `python -m pytest`) does not put the repo on sys.path
    sys.path.insert(0, str(ROOT))

from events.memory import InMemoryEventStore  # noqa: E402
from events.model import NewEvent  # noqa: E402
from events.store import EventStore, SqliteEventStore  # noqa: E402


@pytest.fixture(params=["sqlite", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventStore]:
    """The same contract, once per implementation."""
    made: EventStore = (SqliteEventStore(tmp_path / "log.db") if request.param == "sqlite"
                        else InMemoryEventStore())
    with made:
        yield made


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    return tmp_path / "log.db"


def ev(type_: str, **data: object) -> NewEvent:
    """A NewEvent with keyword data."""
    return NewEvent(type_, data)
