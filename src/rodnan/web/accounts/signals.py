"""Logins, failed logins and logouts go into the audit trail (user name and time; never a password)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from rodnan.web.accounts.access import any_role_code
from rodnan.web.audit.chain import Change, append


@receiver(user_logged_in)
def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    append(user=user, role=any_role_code(user), changes=[Change("auth.login", "user", user.username)])


@receiver(user_logged_out)
def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        append(user=user, role=any_role_code(user), changes=[Change("auth.logout", "user", user.username)])


@receiver(user_login_failed)
def _login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    tried = str(credentials.get("username", ""))[:40]
    append(user=None, role="", changes=[Change("auth.login_failed", "user", tried)])
