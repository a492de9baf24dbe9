"""Builders shared by the event-log tests."""

from __future__ import annotations

from pathlib import Path

from events.model import NewEvent

ROOT = Path(__file__).resolve().parents[2]


def ev(type_: str, **data: object) -> NewEvent:
    """A NewEvent with keyword data."""
    return NewEvent(type_, data)
