"""The test-run plugin (tests/django_env.py): no skips under CI=true, and clean-up of dead runs' clusters."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import django_env

ROOT = Path(__file__).resolve().parents[1]

SKIPPING = """
import sys
import pytest

def test_passes():
    assert True

@pytest.mark.skip(reason="not today")
def test_marked_skip():
    pass

@pytest.mark.skipif(sys.version_info > (3,), reason="condition holds")
def test_skipif():
    pass

def test_skips_itself():
    pytest.skip("decided at run time")

@pytest.mark.xfail(reason="a known bug", strict=True)
def test_known_bug():
    assert False
"""

MODULE_SKIP = """
import pytest
pytest.skip("whole module", allow_module_level=True)
"""


def _run_pytest(folder: Path, ci: bool) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key not in ("CI", "DATABASE_URL")}
    env.update(PYTHONPATH=str(ROOT), RODNAN_TEST_DATABASE="sqlite", PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    if ci:
        env["CI"] = "true"
    command = [sys.executable, "-m", "pytest", "-p", "tests.django_env", "-p", "no:cacheprovider", "-q", "-rA", str(folder)]
    return subprocess.run(command, capture_output=True, text=True, cwd=folder, env=env, timeout=120, check=False)


@pytest.fixture
def skipping_tests(tmp_path: Path) -> Path:
    (tmp_path / "test_skipping.py").write_text(SKIPPING, encoding="utf-8")
    return tmp_path


@pytest.fixture
def skipped_module(tmp_path: Path) -> Path:
    (tmp_path / "test_module_skip.py").write_text(MODULE_SKIP, encoding="utf-8")
    return tmp_path


def test_skips_fail_the_run_under_ci(skipping_tests: Path) -> None:
    done = _run_pytest(skipping_tests, ci=True)
    assert done.returncode == 1, done.stdout + done.stderr
    # skip marks act in the setup phase (an error there), pytest.skip() in the test itself (a failure)
    assert "1 failed, 1 passed, 1 xfailed, 2 errors" in done.stdout
    for reason in ("not today", "condition holds", "decided at run time"):
        assert f"skipped under CI=true, where every test must run: Skipped: {reason}" in done.stdout
    assert "CI=true: 3 skipped test(s) counted as failures" in done.stdout


def test_a_skipped_module_fails_collection_under_ci(skipped_module: Path) -> None:
    done = _run_pytest(skipped_module, ci=True)
    assert done.returncode == 2, done.stdout + done.stderr  # pytest: interrupted by a collection error
    assert "skipped under CI=true, where every test must run: Skipped: whole module" in done.stdout


def test_skips_are_only_skips_outside_ci(skipping_tests: Path) -> None:
    done = _run_pytest(skipping_tests, ci=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed, 3 skipped, 1 xfailed" in done.stdout
    assert "counted as failures" not in done.stdout


def test_clusters_of_dead_runs_are_removed(tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    stale = tmp_path / f"{django_env.CLUSTER_PREFIX}stale"
    (stale / "data").mkdir(parents=True)
    (stale / django_env.OWNER_FILE).write_text(dead.stdout, encoding="utf-8")
    live = tmp_path / f"{django_env.CLUSTER_PREFIX}live"
    live.mkdir()
    (live / django_env.OWNER_FILE).write_text(f"{os.getpid()}\n", encoding="utf-8")
    fresh = tmp_path / f"{django_env.CLUSTER_PREFIX}being-created"  # no owner file yet, but new
    fresh.mkdir()

    assert django_env.remove_stale_clusters(tmp_path) == [stale]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, fresh.name])


def test_requested_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(django_env.DATABASE_ENV, raising=False)
    assert django_env.requested_database() == "sqlite"
    monkeypatch.setenv(django_env.DATABASE_ENV, "PostgreSQL")
    assert django_env.requested_database() == "postgresql"
    monkeypatch.setenv(django_env.DATABASE_ENV, "oracle")
    with pytest.raises(pytest.UsageError, match="must be sqlite or postgresql"):
        django_env.requested_database()
