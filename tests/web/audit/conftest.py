"""Fixtures of the audit tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def audit_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's own key folder and checkpoint file."""
    monkeypatch.setenv("RODNAN_AUDIT_KEY_DIR", str(tmp_path / "keys"))
    monkeypatch.setenv("RODNAN_AUDIT_CHECKPOINT_FILE", str(tmp_path / "checkpoints.jsonl"))
    return tmp_path
