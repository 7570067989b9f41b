"""Fixtures shared by every test: data dirs, and the store on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from midst_desktop.config import Settings, load_settings
from midst_desktop.store.db import Database, open_database
from tests.support.postgres import PostgresServer

IN_CI = os.environ.get("CI", "").lower() == "true"
_counter = itertools.count()


def missing(reason: str) -> None:
    """Skip locally, fail in CI: CI must never quietly test less."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: a missing component fails the run)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer | None]:
    server = PostgresServer()
    try:
        server.start()
    except Exception as error:  # the reason is reported by the tests that need it
        server.stop()
        pytest.postgres_error = str(error)  # type: ignore[attr-defined]
        yield None
        return
    template_url = server.create_database("midst_template")
    open_database(template_url).dispose()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    postgres_server: PostgresServer | None,
) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'midst.db'}"
    if postgres_server is None:
        missing(f"PostgreSQL could not start: {getattr(pytest, 'postgres_error', '')}")
        raise AssertionError("unreachable")
    return postgres_server.create_database(
        f"t{next(_counter)}", template="midst_template"
    )


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(
        data_dir=str(tmp_path / "data"), database_url=database_url, environ={}
    )


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    db = open_database(settings.database_url)
    yield db
    db.dispose()
