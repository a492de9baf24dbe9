"""Fixtures every test directory may ask for: a throwaway PostgreSQL cluster, started once per run."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.postgres import PostgresCluster, PostgresUnavailable


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """A PostgreSQL server on a free loopback port (skips with the reason when it cannot run here).

    `RECARGA_REQUIRE_POSTGRES=1` (CI) turns that skip into a failure.
    """
    try:
        cluster = PostgresCluster().start()
    except PostgresUnavailable as exc:
        if os.environ.get("RECARGA_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required here: {exc}")
        pytest.skip(f"PostgreSQL cannot run here: {exc}")
    try:
        yield cluster
    finally:
        cluster.stop()
