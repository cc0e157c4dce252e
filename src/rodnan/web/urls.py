"""URL map of the web application."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import include, path

from rodnan.web.accounts import session as account_session
from rodnan.web.accounts import views as accounts
from rodnan.web.audit import views as audit
from rodnan.web.crfs import views as crfs
from rodnan.web.subjects import views as subjects

urlpatterns = [
    path(
        "login/", auth_views.LoginView.as_view(template_name="rodnan/login.html", redirect_authenticated_user=True), name="login"
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("session/", account_session.session, name="session"),  # decision 0018: check before a save, re-login in place
    path("", subjects.home, name="home"),
    path("subjects/", subjects.subject_list, name="subject_list"),
    path("subjects/new/", subjects.subject_new, name="subject_new"),
    path("subjects/<int:pk>/", subjects.subject_detail, name="subject_detail"),
    path("subjects/<int:pk>/audit/", audit.subject_audit, name="subject_audit"),
    path("", include("rodnan.web.identity.urls")),  # before the lifecycle steps: "identity" is not a step
    path("subjects/<int:pk>/<slug:transition>/", subjects.subject_transition, name="subject_transition"),
    path("visits/<int:pk>/missed/", subjects.visit_missed, name="visit_missed"),
    path("subjects/<int:pk>/log/<slug:form_code>/add/", crfs.log_add, name="log_add"),
    path("forms/<int:pk>/", crfs.form_entry, name="form_entry"),
    path("forms/<int:pk>/eligibility/", crfs.eligibility_preview, name="eligibility_preview"),
    path("forms/<int:pk>/state/", crfs.record_state_change, name="record_state_change"),
    path("forms/<int:pk>/audit/", audit.form_audit, name="form_audit"),
    path("users/", accounts.users, name="users"),
    path("set-password/<str:uidb64>/<str:token>/", accounts.set_password, name="set_password"),
    path("account-events/", audit.account_audit, name="account_audit"),
]

handler403 = "rodnan.web.errors.forbidden"
handler404 = "rodnan.web.errors.not_found"
