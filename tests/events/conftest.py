"""Fixtures shared by the event-log tests: a store of each kind, and event builders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from events.memory import InMemoryEventStore
from events.store import EventStore, SqliteEventStore


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
