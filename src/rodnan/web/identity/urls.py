"""URLs of the identity store (included by :mod:`rodnan.web.urls` before the subject's lifecycle steps)."""

from __future__ import annotations

from django.urls import path

from rodnan.web.identity import views

urlpatterns = [
    path("subjects/<int:pk>/identity/", views.identity_detail, name="identity_detail"),
    path("subjects/<int:pk>/identity/edit/", views.identity_edit, name="identity_edit"),
    path("identity/search/", views.identity_search, name="identity_search"),
]
