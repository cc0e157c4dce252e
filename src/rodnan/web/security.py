"""Security headers on every response: a strict Content-Security-Policy (no inline script, no
third-party origin) and a permissions policy. Django's SecurityMiddleware sets the rest."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=()"


SESSION_RENEW_SECONDS = 60
"""A session's 30 idle minutes restart at most once a minute (a write per page view would serialise
SQLite's writers for nothing)."""


class IdleTimeoutMiddleware:
    """Renews a logged-in session's expiry when it was last renewed over a minute ago, so a session
    ends SESSION_COOKIE_AGE after the last request (to within a minute)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        if session is not None and getattr(request, "user", None) is not None and request.user.is_authenticated:
            now = int(time.time())
            if now - int(session.get("renewed", 0)) >= SESSION_RENEW_SECONDS:
                session["renewed"] = now  # marks the session modified: saved with a fresh expiry and cookie
        return self.get_response(request)


class SecurityHeadersMiddleware:
    """Adds Content-Security-Policy, Permissions-Policy and no-store caching of pages."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        if not request.path.startswith("/static/"):
            # pages carry clinical data: never kept in a shared or back-button cache
            response.setdefault("Cache-Control", "no-store")
        return response
