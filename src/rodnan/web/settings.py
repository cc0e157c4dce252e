"""Django settings of the rodnan web application.

Everything that differs between a demo, a test run and a real site comes from the environment:

- ``RODNAN_DATA``: the data folder (default ``./rodnan-data``); holds the SQLite database, the
  secret key and the collected static files.
- ``DATABASE_URL``: ``postgresql://user:password@host:port/name`` for production; when unset,
  ``sqlite:///<RODNAN_DATA>/rodnan.sqlite3``.
- ``RODNAN_AUDIT_KEY_DIR`` (default ``<data>/audit/keys``), ``RODNAN_AUDIT_CHECKPOINT_FILE`` (default
  ``<data>/audit/checkpoints.jsonl``), ``RODNAN_AUDIT_CHECKPOINT_MINUTES`` (default 60): decision 0011.
- ``RODNAN_SECRET_KEY`` (else a key generated once into the data folder), ``RODNAN_DEBUG``,
  ``RODNAN_ALLOWED_HOSTS`` (comma-separated).
- ``RODNAN_TLS_PROXY=1`` behind a TLS reverse proxy (docs/operations.md): secure cookies, HSTS
  (``RODNAN_HSTS_SECONDS``, default one year), the proxy's ``X-Forwarded-Proto`` header trusted and plain HTTP
  redirected to HTTPS. ``RODNAN_SECURE_COOKIES=1``, the older name, sets the same.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from rodnan.web.database_url import parse_database_url, sqlite_database

DATA_DIR = Path(os.environ.get("RODNAN_DATA", "rodnan-data")).resolve()
PACKAGE_DIR = Path(__file__).resolve().parent


def _secret_key() -> str:
    key = os.environ.get("RODNAN_SECRET_KEY")
    if key:
        return key
    path = DATA_DIR / "secret_key"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


SECRET_KEY = _secret_key()
DEBUG = os.environ.get("RODNAN_DEBUG", "") == "1"
ALLOWED_HOSTS = [h for h in os.environ.get("RODNAN_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "django_tasks",
    "django_tasks_db",
    "rodnan.web.studies",
    "rodnan.web.accounts",
    "rodnan.web.audit",
    "rodnan.web.subjects",
    "rodnan.web.crfs",
    "rodnan.web.identity",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "rodnan.web.security.SecurityHeadersMiddleware",
    "axes.middleware.AxesMiddleware",
    "rodnan.web.security.IdleTimeoutMiddleware",
]

ROOT_URLCONF = "rodnan.web.urls"
WSGI_APPLICATION = "rodnan.web.wsgi.application"

TEMPLATES = [
    {  # Jinja2, not Django's template language: decision 0007 (rendering time of the busiest pages)
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": False,
        "OPTIONS": {
            "environment": "rodnan.web.jinja.environment",
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "rodnan.web.accounts.context.membership",
            ],
        },
    }
]

_url = os.environ.get("DATABASE_URL", "").strip()
DATABASES = {"default": parse_database_url(_url) if _url else sqlite_database(DATA_DIR / "rodnan.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
# Segregation of duties (docs/operations.md): a role that sees clinical data is granted only when a second
# administrator approves it; RODNAN_ROLE_APPROVAL=0 turns this off (a site with a single administrator).
ROLE_APPROVAL = os.environ.get("RODNAN_ROLE_APPROVAL", "1") != "0"

# A new account's one-time set-password link (and one issued for a forgotten password) expires after this long.
PASSWORD_RESET_TIMEOUT = int(os.environ.get("RODNAN_SET_PASSWORD_HOURS", "72")) * 3600

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Lockout: five failed logins for a user name lock it for 30 minutes (django-axes).
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = 0.5
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "rodnan/locked_out.html"
AXES_VERBOSE = False
# Lockout is per user name on purpose: a hospital's staff share one outgoing address, and locking by
# address would lock out the whole site after one person's typos.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]

# Sessions end after 30 minutes without a request, and when the browser closes.
SESSION_COOKIE_AGE = 30 * 60
SESSION_SAVE_EVERY_REQUEST = False  # rodnan.web.security.IdleTimeoutMiddleware renews it at most once a minute
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_FAILURE_VIEW = "rodnan.web.accounts.session.csrf_failure"  # a plain page with the way back (decision 0018)
# One switch behind a TLS reverse proxy (docs/operations.md): the proxy must set X-Forwarded-Proto and strip any
# value a client sends, or a client could claim HTTPS.
_tls = "1" in (os.environ.get("RODNAN_TLS_PROXY", ""), os.environ.get("RODNAN_SECURE_COOKIES", ""))
SESSION_COOKIE_SECURE = _tls
CSRF_COOKIE_SECURE = _tls
if _tls:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SECURE_HSTS_SECONDS = int(os.environ.get("RODNAN_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = False  # the hospital's other sites on the same domain are not ours to pin
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

LANGUAGE_CODE = "en"
TIME_ZONE = os.environ.get("RODNAN_TIME_ZONE", "Asia/Shanghai")
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
WHITENOISE_USE_FINDERS = True  # serves the vendored files straight from the package; collectstatic is optional
STATICFILES_DIRS = [PACKAGE_DIR / "static"]

# No clinical values in logs: requests are logged by path and status only, never with bodies.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        "django.security": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        "rodnan": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}

# The one background task runner (decision 0012): tasks are queued in the database; the worker that
# ``rodnan serve`` and ``rodnan demo`` start beside the web server runs them (rodnan.web.tasks).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

RODNAN_PROTOCOL = os.environ.get("RODNAN_PROTOCOL", "")  # a protocol file; empty: the bundled one
