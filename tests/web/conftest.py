"""Fixtures shared by the web tests; nothing business-specific (builders live in factories.py).

The database is chosen by ``RODNAN_TEST_DATABASE`` (see tests/django_env.py): SQLite by default,
a private PostgreSQL 15 cluster with ``postgresql``. Every test that touches the database says so
itself with pytest-django's ``db`` fixture or ``django_db`` mark. A test whose expected behaviour
differs between the two databases asserts each database's own behaviour (``db_vendor``); it is never
skipped, because under CI=true a skip fails the run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

RodnanCli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def site() -> Any:
    """Site NJDT of the loaded protocol (the database's first site)."""
    from tests.web import factories

    return factories.site_a(factories.make_study())


@pytest.fixture
def investigator(site: Any) -> Any:
    """An investigator at ``site``."""
    from tests.web import factories

    return factories.make_user("inv", "investigator", site)


@pytest.fixture
def coordinator(site: Any) -> Any:
    """A study coordinator at ``site``."""
    from tests.web import factories

    return factories.make_user("coord", "coordinator", site)


@pytest.fixture
def admin(site: Any) -> Any:
    """An administrator at ``site``."""
    from tests.web import factories

    return factories.make_user("admin", "administrator", site)


@pytest.fixture
def inv_client(client: Any, investigator: Any) -> Any:
    """Django's test client, logged in as ``investigator``."""
    client.force_login(investigator)
    return client


@pytest.fixture(scope="session")
def db_vendor() -> str:
    """``sqlite`` or ``postgresql``: the database this run tests on."""
    from django.db import connection

    return str(connection.vendor)


@pytest.fixture
def rodnan_cli() -> RodnanCli:
    """Runs the ``rodnan`` command line in a subprocess: ``rodnan_cli("audit", "verify", "--data", d)``.

    The subprocess does not inherit the test run's ``DATABASE_URL`` (which names the test cluster) nor a
    test's audit key folder or checkpoint file, so ``--data`` picks the SQLite database, keys and
    checkpoints of that folder unless the test passes ``--database-url``.
    Output is wide (no line wrapping by rich) and plain.
    """
    script = Path(sys.executable).with_name("rodnan")
    command = [str(script)] if script.exists() else [sys.executable, "-c", "from rodnan.cli.app import main; main()"]
    own = ("DATABASE_URL", "RODNAN_AUDIT_KEY_DIR", "RODNAN_AUDIT_CHECKPOINT_FILE")  # the data folder's own, not a test's
    env = {key: value for key, value in os.environ.items() if key not in own}
    env.update(COLUMNS="250", NO_COLOR="1", TERM="dumb")

    def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*command, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout, check=False)

    return run
