"""Settings for Huis clos, read from the environment.

Every variable read here is listed, with a safe development value, in
`.env.example`. A production deployment (DJANGO_DEBUG unset) refuses to start
without a secret key and an explicit host list.
"""

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean, got {value!r}")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {value!r}") from None


def env_secret(name: str) -> str:
    """Read NAME, or the content of the file named by NAME_FILE (Docker secrets)."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        return Path(path).read_text().strip()
    return os.environ.get(name, "")


def database_from_url(url: str) -> dict[str, object]:
    parts = urlsplit(url)
    if parts.scheme in {"postgres", "postgresql"}:
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")) or "huisclos",
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": env_int("DB_CONN_MAX_AGE", 60),
            "CONN_HEALTH_CHECKS": True,
        }
    if parts.scheme == "sqlite":
        # sqlite:///relative/path or sqlite:////absolute/path
        path = parts.path[1:] if parts.path.startswith("/") else parts.path
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / path}
    raise ImproperlyConfigured(f"DATABASE_URL scheme {parts.scheme!r} is not supported")


DEBUG = env_bool("DJANGO_DEBUG")

SECRET_KEY = env_secret("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY (or DJANGO_SECRET_KEY_FILE) must be set in production."
        )
    SECRET_KEY = "insecure-development-key-never-use-in-production"

ALLOWED_HOSTS = [h for h in env_str("DJANGO_ALLOWED_HOSTS").split(",") if h]
if DEBUG and not ALLOWED_HOSTS:
    ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must be set in production.")
CSRF_TRUSTED_ORIGINS = [o for o in env_str("DJANGO_CSRF_TRUSTED_ORIGINS").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "guardian",
    "django_fsm",
    "audit",
    "accounts",
    "legal_basis",
    "requests_app",
    "letters",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "common.middleware.NoStoreMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
                "accounts.context_processors.roles",
            ],
        },
    },
]

DATABASES = {
    "default": database_from_url(env_secret("DATABASE_URL") or "sqlite:///var/huisclos.sqlite3")
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "requests_app:home"
LOGOUT_REDIRECT_URL = "login"
# Guardian would otherwise create an "AnonymousUser" row in every database.
ANONYMOUS_USER_NAME = None
GUARDIAN_RAISE_403 = False

LANGUAGE_CODE = "fr-be"
LANGUAGES = [("fr", "Français")]
TIME_ZONE = "Europe/Brussels"
USE_I18N = True
USE_TZ = True
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["config.formats"]

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("HUISCLOS_STATIC_ROOT", str(BASE_DIR / "var" / "static")))

# Scans and replies are never served by a web server: only through views
# that check access and write an audit event.
PRIVATE_STORAGE_ROOT = Path(env_str("HUISCLOS_PRIVATE_ROOT", str(BASE_DIR / "var" / "private")))
SCAN_MAX_BYTES = env_int("HUISCLOS_SCAN_MAX_BYTES", 20 * 1024 * 1024)
# Keep uploads bigger than a few MB on disk rather than in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_NUMBER_FILES = 5

SESSION_COOKIE_AGE = env_int("HUISCLOS_SESSION_SECONDS", 10 * 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SECURE_SSL_REDIRECT = env_bool("HUISCLOS_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = 0 if DEBUG else 31_536_000
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    # blob: for the preview of a scan chosen on the intake page, never sent anywhere.
    "img-src": [CSP.SELF, "blob:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "requests_app.api.exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Huis clos API",
    "DESCRIPTION": "Requests to disclose information covered by professional secrecy.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
}

MAILERS = {
    "default": {
        "BACKEND": env_str(
            "DJANGO_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend"
        ),
        "OPTIONS": {
            "host": env_str("DJANGO_EMAIL_HOST", "localhost"),
            "port": env_int("DJANGO_EMAIL_PORT", 25),
        }
        if env_str("DJANGO_EMAIL_BACKEND").endswith("smtp.EmailBackend")
        else {},
    }
}
DEFAULT_FROM_EMAIL = env_str("DJANGO_DEFAULT_FROM_EMAIL", "huisclos@localhost")
# Audit trail (docs/audit.md): the Ed25519 key that signs checkpoints of the
# chain head lives outside the database; the directory keeps the signed heads.
HUISCLOS_AUDIT_SIGNING_KEY = env_str("HUISCLOS_AUDIT_SIGNING_KEY")
HUISCLOS_AUDIT_CHECKPOINT_DIR = Path(
    env_str("HUISCLOS_AUDIT_CHECKPOINT_DIR", str(BASE_DIR / "var" / "audit-checkpoints"))
)

# Official letters (letters app). Each signer's PKCS#12 is stored in the
# database re-encrypted under this passphrase (env var or *_FILE secret);
# required outside DEBUG to store or use credentials.
HUISCLOS_SIGNING_PASSPHRASE = env_secret("HUISCLOS_SIGNING_PASSPHRASE")
# PEM files (comma-separated) of the CAs whose signatures are trusted.
HUISCLOS_SIGNING_TRUST_ROOTS = [
    p
    for p in env_str(
        "HUISCLOS_SIGNING_TRUST_ROOTS",
        str(BASE_DIR / "var" / "demo-pki" / "ca.pem") if DEBUG else "",
    ).split(",")
    if p
]
# In production no letter leaves with a missing or placeholder letterhead.
HUISCLOS_REQUIRE_LETTERHEAD = env_bool("HUISCLOS_REQUIRE_LETTERHEAD", default=not DEBUG)
# RFC 3161 timestamping authority (PAdES B-T); empty: no timestamp.
HUISCLOS_TSA_URL = env_str("HUISCLOS_TSA_URL")
# Every PDF is rendered in a child process stopped past this time, or when
# its memory grows by more than this (T-PDF-3): a pathological letter costs
# an error message, not the web worker.
HUISCLOS_RENDER_TIMEOUT_SECONDS = env_int("HUISCLOS_RENDER_TIMEOUT_SECONDS", 30)
HUISCLOS_RENDER_MAX_MEMORY_BYTES = env_int("HUISCLOS_RENDER_MAX_MEMORY_BYTES", 512 * 1024 * 1024)

# Used in e-mailed links (reminders).
HUISCLOS_BASE_URL = env_str("HUISCLOS_BASE_URL", "http://127.0.0.1:8000")

# Log records carry ids and references only; never request bodies.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("HUISCLOS_LOG_LEVEL", "INFO")},
    "loggers": {
        # The request logger would print request paths with query strings.
        "django.request": {"level": "ERROR"},
        # WeasyPrint logs its progress at INFO.
        "weasyprint": {"level": "WARNING"},
        "weasyprint.progress": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}
