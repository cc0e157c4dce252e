"""Django app: case report forms."""

from __future__ import annotations

from django.apps import AppConfig


class Config(AppConfig):
    name = "rodnan.web.crfs"
    label = "crfs"
    verbose_name = "Case report forms"
    default_auto_field = "django.db.models.BigAutoField"
