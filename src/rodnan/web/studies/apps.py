"""Django app: study and sites."""

from __future__ import annotations

from django.apps import AppConfig


class Config(AppConfig):
    name = "rodnan.web.studies"
    label = "studies"
    verbose_name = "Study and sites"
    default_auto_field = "django.db.models.BigAutoField"
