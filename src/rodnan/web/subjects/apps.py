"""Django app: subjects and visits."""

from __future__ import annotations

from django.apps import AppConfig


class Config(AppConfig):
    name = "rodnan.web.subjects"
    label = "subjects"
    verbose_name = "Subjects and visits"
    default_auto_field = "django.db.models.BigAutoField"
