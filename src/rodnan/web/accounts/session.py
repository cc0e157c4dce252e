"""No lost typing (decision 0018): the session check and in-place re-login that static/rodnan/unsaved.js
uses before a save, and the plain page shown when a form's CSRF check fails.

A page rendered for a logged-in user carries a signed token of that user (``relogin_token``). When the
session has ended, the page's script asks for the password in a dialog and posts it here with the token;
only the same user may log in this way, so typing is never saved under someone else's name.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate, get_user_model, login
from django.core import signing
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

RELOGIN_SALT = "rodnan.web.accounts.session.relogin"
FAILED_LOGIN = "User name and password did not match. After 5 failed attempts the account is locked for 30 minutes."


def relogin_token(user: Any) -> str:
    """The signed token of ``user`` that a page carries for an in-place re-login.

    Args:
        user: a logged-in user.

    Returns:
        The user's primary key, signed (the same text for every page of that user, so pages stay
        comparable byte for byte).
    """
    return signing.Signer(salt=RELOGIN_SALT).sign(str(user.pk))


def token_user(token: str) -> Any | None:
    """The active user a ``relogin_token`` names, or None when it is forged, malformed or the user is gone.

    Args:
        token: the text posted back by the page.

    Returns:
        The user, or None.
    """
    try:
        pk = int(signing.Signer(salt=RELOGIN_SALT).unsign(token))
    except (signing.BadSignature, ValueError):
        return None
    return get_user_model().objects.filter(pk=pk, is_active=True).first()


@never_cache
@require_http_methods(["GET", "POST"])
def session(request: HttpRequest) -> JsonResponse:
    """GET: who is logged in (``user``, None once the session has ended) and a current CSRF token.

    POST (``username``, ``password``, ``token``): log in again as the user the page was opened by.
    Refused with 403 for another user name, 401 for a wrong password (counted by django-axes, whose
    lockout answers instead once the limit is reached), 400 without a valid token. On success the
    session and the CSRF token are new (Django's ``login``); the answer carries the new token.
    """
    if request.method == "GET":
        name = request.user.get_username() if request.user.is_authenticated else None
        return JsonResponse({"user": name, "csrf": get_token(request)})
    expected = token_user(str(request.POST.get("token", "")))
    if expected is None:
        return JsonResponse({"error": "This page is too old to log in from: open it again."}, status=400)
    username = str(request.POST.get("username", "")).strip()
    if username != expected.get_username():
        message = f"This page was opened by {expected.get_username()}: only {expected.get_username()} can log in here to save it."
        return JsonResponse({"error": message}, status=403)
    user = authenticate(request, username=username, password=str(request.POST.get("password", "")))
    if user is None or user.pk != expected.pk:
        return JsonResponse({"error": FAILED_LOGIN}, status=401)
    login(request, user)  # a new session key and a new CSRF secret
    return JsonResponse({"user": user.get_username(), "csrf": get_token(request)})


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: a plain page saying what happened and how to go back (never Django's own)."""
    here = request.get_full_path()
    referer = request.META.get("HTTP_REFERER", "")
    same_site = url_has_allowed_host_and_scheme(referer, allowed_hosts={request.get_host()}, require_https=request.is_secure())
    back = referer if referer and same_site else here
    context = {
        "code": 403,
        "title": "Page expired",
        "message": (
            "What you sent could not be accepted, because this browser's security cookie for rodnan was missing or "
            "out of date. This happens when cookies were cleared or blocked, or after logging in on another tab. "
            "Nothing from that page was saved."
        ),
        "back": back,
        "login": f"{reverse('login')}?{urlencode({'next': here})}" if not request.user.is_authenticated else "",
    }
    return render(request, "rodnan/error.html", context, status=403)
