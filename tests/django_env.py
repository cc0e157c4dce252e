"""Pytest plugin loaded before Django starts (``-p tests.django_env`` in pyproject): gives the test
run its own throw-away data folder and secret key, so no test touches ./rodnan-data."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("RODNAN_DATA", tempfile.mkdtemp(prefix="rodnan-test-data-"))
os.environ.setdefault("RODNAN_SECRET_KEY", "test-only-secret-key-not-for-production-use-0123456789")
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's event loop beside live_server
