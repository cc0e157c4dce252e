"""Error pages in the application's layout (never a traceback)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """403: the role does not allow this."""
    return render(request, "rodnan/error.html", {"code": 403, "message": str(exception or "not allowed")}, status=403)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """404: nothing here, or nothing at the user's sites."""
    return render(request, "rodnan/error.html", {"code": 404, "message": str(exception or "not found")}, status=404)
