"""Django app: users, roles and site membership."""

from __future__ import annotations

from django.apps import AppConfig


class Config(AppConfig):
    name = "rodnan.web.accounts"
    label = "accounts"
    verbose_name = "Users, roles and site membership"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from rodnan.web.accounts import signals  # noqa: F401  (connects the login audit receivers)
