"""Django app: who the patient is (decision 0020), kept apart from the pseudonymous clinical data."""

from __future__ import annotations

from django.apps import AppConfig


class Config(AppConfig):
    name = "rodnan.web.identity"
    label = "identity"
    verbose_name = "Patient identity"
    default_auto_field = "django.db.models.BigAutoField"
