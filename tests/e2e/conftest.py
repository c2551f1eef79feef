"""Fixtures of the end-to-end tests: one headless Chromium per module, a tab on the module's
server, a database of its own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from playwright.sync_api import Browser, sync_playwright
from psycopg import sql
from psycopg.conninfo import make_conninfo

from tests.e2e.chromium import CHROMIUM_FLAGS, chromium
from tests.e2e.pages import Visit
from tests.e2e.server import Server


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium(), args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def visit(browser: Browser, server: Server) -> Iterator[Visit]:
    """A tab on the module's `server`; the test fails if the page asked another origin or
    its scripts threw."""
    opened = Visit(browser, server)
    yield opened
    opened.close()
    assert not opened.foreign, f"the page asked another origin: {opened.foreign}"
    assert not opened.errors, f"errors in the page: {opened.errors}"


@pytest.fixture
def own_database(database_server: str) -> Iterator[tuple[str, str]]:
    """A database of its own (an outage or a count of connections touches no other test)."""
    name = f"hp_e2e_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(database_server, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield make_conninfo(database_server, dbname=name), name
    with psycopg.connect(database_server, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
