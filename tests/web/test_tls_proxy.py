"""Issue 16: behind a TLS reverse proxy one switch (RODNAN_TLS_PROXY=1) sets HSTS, trusts the proxy's
X-Forwarded-Proto, redirects plain HTTP and marks the cookies Secure. Settings are read once per process, so
each case runs in a fresh interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
client = Client()
plain = client.get("/login/")
proxied = client.get("/login/", HTTP_X_FORWARDED_PROTO="https")
cookie = proxied.cookies.get("csrftoken")
print(json.dumps({
    "plain": [plain.status_code, plain.headers.get("Location", "")],
    "proxied": [proxied.status_code, proxied.headers.get("Strict-Transport-Security", "")],
    "csrf_secure": bool(cookie and cookie["secure"]),
    "session_secure": settings.SESSION_COOKIE_SECURE,
}))
"""


def _probe(tmp_path: Path, **env: str) -> dict[str, object]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RODNAN_") and k != "DATABASE_URL"}
    run_env = {**clean, "DJANGO_SETTINGS_MODULE": "rodnan.web.settings", "RODNAN_DATA": str(tmp_path), **env}
    done = subprocess.run([sys.executable, "-c", PROBE], env=run_env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize("switch", ["RODNAN_TLS_PROXY", "RODNAN_SECURE_COOKIES"])
def test_the_tls_proxy_switch_sets_hsts_the_proxy_header_the_redirect_and_secure_cookies(tmp_path, switch):
    seen = _probe(tmp_path, **{switch: "1"})
    assert seen["plain"] == [301, "https://testserver/login/"]
    assert seen["proxied"] == [200, "max-age=31536000"]
    assert seen["csrf_secure"] is True
    assert seen["session_secure"] is True


def test_without_the_switch_nothing_claims_https(tmp_path):
    seen = _probe(tmp_path)
    assert seen["plain"] == [200, ""]
    assert seen["proxied"] == [200, ""]  # a client's X-Forwarded-Proto is not trusted without a proxy
    assert seen["csrf_secure"] is False
    assert seen["session_secure"] is False
