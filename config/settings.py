"""Settings for Huis clos, read from the environment.

Every variable read here is listed, with a safe development value, in
`.env.example`. A production deployment (DJANGO_DEBUG unset) refuses to start
without a secret key and an explicit host list.
"""

import os
from datetime import timedelta
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
            # An unreachable or silent server costs a 503 within seconds, not a
            # hanging worker (common.middleware.DatabaseUnavailableMiddleware).
            "OPTIONS": {
                "connect_timeout": env_int("HUISCLOS_DB_CONNECT_TIMEOUT", 3),
                # Unacknowledged data (a server gone silent) closes the connection.
                "tcp_user_timeout": env_int("HUISCLOS_DB_TCP_USER_TIMEOUT_MS", 5000),
                # PostgreSQL's JIT compiles a query whose estimated cost is high,
                # which the statistics' outcome query is (correlated subqueries):
                # compiling took 1.15 s of its 1.16 s at 100,000 requests, the
                # query itself 0.29 s. No query of this application gains from it.
                "options": (
                    f"-c statement_timeout={env_int('HUISCLOS_DB_STATEMENT_TIMEOUT_MS', 60000)}"
                    " -c jit=off"
                ),
            },
        }
    if parts.scheme == "sqlite":
        # sqlite:///relative/path or sqlite:////absolute/path
        path = parts.path[1:] if parts.path.startswith("/") else parts.path
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": BASE_DIR / path}
    raise ImproperlyConfigured(f"DATABASE_URL scheme {parts.scheme!r} is not supported")


DEBUG = env_bool("DJANGO_DEBUG")
# As started (the test runner turns settings.DEBUG off): `load_demo` runs only
# with DJANGO_DEBUG=true.
HUISCLOS_DEMO_ALLOWED = DEBUG

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
    "knox",
    "drf_spectacular",
    "guardian",
    "django_fsm",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_otp_webauthn",
    "audit",
    "accounts",
    "legal_basis",
    "requests_app",
    "letters",
    "dpo",
    # After accounts: its sign-in receivers run before axes's (accounts/throttling.py).
    "axes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Right after the user is known: 503 when PostgreSQL cannot be reached.
    "common.middleware.DatabaseUnavailableMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "accounts.middleware.SecondFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # 30 min idle, 10 h absolute (accounts/sessions.py).
    "accounts.sessions.SessionLimitsMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "common.middleware.NoStoreMiddleware",
    # Last, as django-axes asks: turns a refused sign-in into the 429 page.
    "axes.middleware.AxesMiddleware",
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
# API tokens (django-rest-knox): only a SHA-512 digest is stored; each token
# expires after HUISCLOS_API_TOKEN_DAYS days (30 by default).
KNOX_TOKEN_MODEL = "accounts.ApiToken"
# knox's own migrations build its default token table, swapped out here.
MIGRATION_MODULES = {"knox": None}
HUISCLOS_API_TOKEN_DAYS = env_int("HUISCLOS_API_TOKEN_DAYS", 30)
if not 1 <= HUISCLOS_API_TOKEN_DAYS <= 365:
    raise ImproperlyConfigured("HUISCLOS_API_TOKEN_DAYS must be between 1 and 365.")
REST_KNOX = {
    "TOKEN_TTL": timedelta(days=HUISCLOS_API_TOKEN_DAYS),
    "AUTH_HEADER_PREFIX": "Token",
    "AUTO_REFRESH": False,
    "TOKEN_LIMIT_PER_USER": 20,
}
AUTHENTICATION_BACKENDS = [
    # First: a locked account or address is refused before any password hashing
    # (axes.backends.AxesStandaloneBackend; accounts/throttling.py says why a subclass).
    "accounts.throttling.ThrottleBackend",
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
# Argon2id with the parameters argued in accounts/hashers.py; PBKDF2 hashes of
# older accounts still check and are rehashed to Argon2id at the next sign-in.
PASSWORD_HASHERS = [
    "accounts.hashers.HuisClosArgon2Hasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
]

# Sign-in throttling (django-axes, see accounts/throttling.py): web, admin and
# API token sign-in all go through authenticate(), where AxesStandaloneBackend
# refuses a locked account or address before ModelBackend hashes anything.
# - per account: 10 failures in 15 minutes lock the account for 15 minutes.
#   Online guessing is then at most ~960 tries a day against passwords of at
#   least 12 characters, while a person who mistypes a few times is never
#   locked; a longer lock would only help an attacker keep a colleague out.
# - per source address: 50 failures in 15 minutes lock the address (all
#   accounts) for 15 minutes. Higher than per account because a CPAS's staff
#   usually share one public address; it stops one address from trying 9
#   passwords on each of many accounts.
# The cool-off is fixed (not extended by refused tries), so the French
# message can say when to try again; refused tries are neither hashed nor
# written. Attempts are counted under an account id or a keyed digest of the
# typed name (never the name itself), and axes keeps no access or failure
# log of its own: sign-ins, failures, lockouts and unlocks are audit events.
AXES_FAILURE_LIMIT = 10
AXES_ADDRESS_FAILURE_LIMIT = 50
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = False
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_HANDLER = "accounts.throttling.ThrottleHandler"
AXES_USERNAME_CALLABLE = "accounts.throttling.account_key"
AXES_CLIENT_IP_CALLABLE = "accounts.throttling.client_address"
AXES_LOCKOUT_CALLABLE = "accounts.throttling.lockout_response"
AXES_DISABLE_ACCESS_LOG = True
AXES_ENABLE_ACCESS_FAILURE_LOG = False
AXES_ENABLE_ADMIN = False
AXES_VERBOSE = False
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "password", "otp_token", "code"]
# The web process sits behind the project's nginx (deploy/nginx.conf), which
# replaces X-Forwarded-For with the address it sees: only then is that header
# the client's address. Off, REMOTE_ADDR is used.
HUISCLOS_TRUSTED_PROXY = env_bool("HUISCLOS_TRUSTED_PROXY")
LOGIN_URL = "login"
# Second factor (django-otp, django-otp-webauthn): every account enrols at its
# first sign-in; see accounts/middleware.py.
OTP_TOTP_ISSUER = "Huis clos"
OTP_WEBAUTHN_RP_ID = env_str("HUISCLOS_WEBAUTHN_RP_ID", "localhost" if DEBUG else "")
OTP_WEBAUTHN_RP_NAME = env_str("HUISCLOS_WEBAUTHN_RP_NAME", "Huis clos")
# Comma-separated origins (https://huisclos.example.be); with DEBUG and none
# set, a request to http://localhost:<any port> is accepted (accounts/webauthn.py).
OTP_WEBAUTHN_ALLOWED_ORIGINS = [o for o in env_str("HUISCLOS_WEBAUTHN_ORIGINS").split(",") if o]
# Development without origins relies on that localhost rule: the library's
# "no origins" check is silenced there only; production refuses to start.
SILENCED_SYSTEM_CHECKS = (
    ["otp_webauthn.E030"] if DEBUG and not OTP_WEBAUTHN_ALLOWED_ORIGINS else []
)
OTP_WEBAUTHN_HELPER_CLASS = "accounts.webauthn.WebAuthnHelper"
# A key or passkey is a second factor only: the password comes first.
OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN = False
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
# An image scan above this many pixels (all frames) is refused before decoding.
SCAN_MAX_PIXELS = env_int("HUISCLOS_SCAN_MAX_PIXELS", 50_000_000)
# Keep uploads bigger than a few MB on disk rather than in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_NUMBER_FILES = 5

# A signed-in session ends after 30 minutes without a request or 10 hours
# after sign-in, whichever comes first (accounts/sessions.py). The session row
# expires a few minutes after the idle limit, so the middleware still sees a
# session that just went idle and records it; `clearsessions` (hourly,
# docker-compose.yml) deletes the rows past that.
# Shared by every worker process (and every machine): the sign-in and
# step-up throttles count in it. The table is made by `createcachetable`,
# run with the migrations.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "huisclos_cache",
    }
}
SESSION_IDLE_SECONDS = env_int("HUISCLOS_SESSION_IDLE_SECONDS", 30 * 60)
SESSION_ABSOLUTE_SECONDS = env_int("HUISCLOS_SESSION_SECONDS", 10 * 3600)
SESSION_COOKIE_AGE = SESSION_IDLE_SECONDS + 5 * 60
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
# Harmless on a sub-domain (only an apex domain can be preloaded); asked for
# by check --deploy.
SECURE_HSTS_PRELOAD = env_bool("HUISCLOS_HSTS_PRELOAD", default=not DEBUG)
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
        "accounts.tokens.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    # JSON for every error, a 500 without traceback (config/errors.py).
    "EXCEPTION_HANDLER": "config.errors.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Huis clos API",
    "DESCRIPTION": "Requests to disclose information covered by professional secrecy.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Two choice sets share the field name "channel": name them (check --deploy).
    "ENUM_NAME_OVERRIDES": {
        "IntakeChannelEnum": "requests_app.models.Channel",
        "DispatchChannelEnum": "requests_app.models.DispatchChannel",
    },
    # Every operation lists its error answers (400/401/403/404/405/409/503...).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.errors.add_error_responses",
    ],
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
# Above this many events, verify_audit and "Vérifier maintenant" fail when no
# checkpoint signed by a trusted key is found.
HUISCLOS_AUDIT_CHECKPOINT_REQUIRED_AFTER = env_int(
    "HUISCLOS_AUDIT_CHECKPOINT_REQUIRED_AFTER", 1000
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

# ---------------------------------------------------------------------------
# Production (DJANGO_DEBUG off) refuses to start with a placeholder or short
# secret or an e-mail backend that sends nothing (docs/production.md). The
# message names the variables, never their values.
SECRET_KEY_MIN_LENGTH = 50
SIGNING_PASSPHRASE_MIN_LENGTH = 16
DATABASE_PASSWORD_MIN_LENGTH = 16
# The placeholders of .env.example and the usual stand-ins.
PLACEHOLDER_SECRETS = {"password", "secret", "changeme", "change-me", "example", "test"}
UNSAFE_EMAIL_BACKENDS = {"console", "locmem", "dummy"}


def unsafe_secret(name: str, value: str, minimum: int) -> str | None:
    """Why VALUE (the secret read from NAME) is unfit for production, or None."""
    lowered = value.strip().lower()
    if not value:
        return f"{name} (or {name}_FILE) is not set"
    if lowered.startswith(("change-me", "changeme")) or lowered in PLACEHOLDER_SECRETS:
        return f"{name} still holds a placeholder value (from .env.example)"
    if len(value) < minimum:
        return f"{name} is shorter than {minimum} characters"
    if len(set(value)) < 5 or lowered.startswith(("django-insecure", "insecure")):
        return f"{name} is not random"
    return None


def production_problems() -> list[str]:
    problems = [
        unsafe_secret("DJANGO_SECRET_KEY", SECRET_KEY, SECRET_KEY_MIN_LENGTH),
        unsafe_secret(
            "HUISCLOS_SIGNING_PASSPHRASE",
            HUISCLOS_SIGNING_PASSPHRASE,
            SIGNING_PASSPHRASE_MIN_LENGTH,
        ),
    ]
    database_password = str(DATABASES["default"].get("PASSWORD") or "")
    if database_password:
        problems.append(
            unsafe_secret(
                "DATABASE_URL (its password)", database_password, DATABASE_PASSWORD_MIN_LENGTH
            )
        )
    if not (OTP_WEBAUTHN_RP_ID and OTP_WEBAUTHN_ALLOWED_ORIGINS):
        problems.append(
            "HUISCLOS_WEBAUTHN_RP_ID and HUISCLOS_WEBAUTHN_ORIGINS must name the site "
            "(security keys are bound to it)"
        )
    backend = str(MAILERS["default"]["BACKEND"])
    if set(backend.split(".")) & UNSAFE_EMAIL_BACKENDS:
        problems.append(
            "DJANGO_EMAIL_BACKEND sends no e-mail (console, locmem or dummy backend): "
            "set django.core.mail.backends.smtp.EmailBackend"
        )
    return [p for p in problems if p]


if not DEBUG and (_problems := production_problems()):
    raise ImproperlyConfigured(
        "Unsafe production configuration, refusing to start: "
        + "; ".join(_problems)
        + ". See docs/production.md (or set DJANGO_DEBUG=true for development only)."
    )

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
