"""Fixtures shared by the event-log tests: a store of each kind, and event builders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from events.location import open_store
from events.memory import InMemoryEventStore
from events.store import EventStore, SqliteEventStore


@pytest.fixture(params=["sqlite", "memory", pytest.param("postgresql", marks=pytest.mark.integration)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventStore]:
    """The same contract, once per implementation (PostgreSQL: a fresh schema of the session's cluster)."""
    made: EventStore
    if request.param == "sqlite":
        made = SqliteEventStore(tmp_path / "log.db")
    elif request.param == "memory":
        made = InMemoryEventStore()
    else:
        made = open_store(request.getfixturevalue("postgres").fresh_schema())
    with made:
        yield made


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    return tmp_path / "log.db"
