"""Error pages in the application's layout (never a traceback)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import Resolver404


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """403: the role does not allow this."""
    return render(request, "rodnan/error.html", {"code": 403, "message": _plain(exception, "not allowed")}, status=403)


def _plain(exception: Exception | None, default: str) -> str:
    """The message the application raised (``Http404("no such form at your sites")``), else ``default``: never
    Django's own details (an unmatched URL's resolver dump lists every URL pattern; a model lookup names the model)."""
    if exception is None or isinstance(exception, Resolver404) or len(exception.args) != 1:
        return default
    message = exception.args[0]
    return message if isinstance(message, str) and message and not message.startswith("No ") else default


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """404: nothing here, or nothing at the user's sites (a plain sentence, never the URL patterns)."""
    return render(request, "rodnan/error.html", {"code": 404, "message": _plain(exception, "not found")}, status=404)
