"""Settings, read from environment variables only.

Every variable is listed in the README ("Configuration"). Two profiles:

* default (laptop, demo, tests): SQLite in ``GRASSROOTS_DATA_DIR``, a secret key generated once and
  kept in that directory, plain HTTP on localhost;
* production (``GRASSROOTS_PRODUCTION=1``): the secret key and hosts must be given, cookies are
  secure and HSTS is on, so that ``manage.py check --deploy`` is clean.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("GRASSROOTS_DATA_DIR", "grassroots-data")).resolve()
PRODUCTION = env_bool("GRASSROOTS_PRODUCTION")
DEBUG = env_bool("GRASSROOTS_DEBUG")


def _secret_key() -> str:
    key = os.environ.get("GRASSROOTS_SECRET_KEY")
    if key:
        return key
    if PRODUCTION:
        raise ImproperlyConfigured("GRASSROOTS_SECRET_KEY must be set when GRASSROOTS_PRODUCTION=1.")
    # A laptop install keeps a generated key beside its database, so sessions survive restarts.
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()

ALLOWED_HOSTS = env_list("GRASSROOTS_ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost,[::1]")
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("GRASSROOTS_ALLOWED_HOSTS must be set when GRASSROOTS_PRODUCTION=1.")
CSRF_TRUSTED_ORIGINS = env_list("GRASSROOTS_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "ninja",
    "grassroots.core",
    "grassroots.areas",
    "grassroots.accounts",
    "grassroots.audit",
    "grassroots.registry",
    "grassroots.imports",
    "grassroots.cases",
    "grassroots.disputes",
    "grassroots.cockpit",
]

MIDDLEWARE = [
    "grassroots.core.health.ProxyMiddleware",
    "grassroots.core.health.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "grassroots.core.routers.ReplicaMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "grassroots.core.middleware.LanguageMiddleware",
    "grassroots.core.middleware.RefuseNulMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "grassroots.accounts.middleware.IdleTimeoutMiddleware",
    "grassroots.accounts.middleware.PasswordExpiryMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "grassroots.core.middleware.SecurityHeadersMiddleware",
]

ROOT_URLCONF = "grassroots.urls"
WSGI_APPLICATION = "grassroots.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "grassroots.core.context.navigation",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
SQLITE_PATH = DATA_DIR / "grassroots.sqlite3"
# Persistent connections are checked before a request uses them (one round trip, the first query of a
# request only): one that broke while idle (a database restart or failover, a proxy's or firewall's
# idle timeout) is then replaced instead of failing that request with a 500.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{SQLITE_PATH}",
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    if not os.environ.get("DATABASE_URL"):
        DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets readers run beside the one writer; IMMEDIATE takes the write lock at BEGIN, so two
        # writers queue on the busy timeout instead of failing with "database is locked" mid-way.
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
            "PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY;"
        ),
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["TEST"] = {"NAME": os.environ.get("GRASSROOTS_TEST_SQLITE") or None}
else:
    # One test database per test process, so that several test runs can share a server.
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"}
    # The JIT compiles plans for seconds on the audit's single large statements and buys nothing for
    # the short indexed queries that make up the rest of the load.
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# A read replica (PostgreSQL hot standby) for the cockpit, public pages and reports: see
# grassroots.core.routers and docs/scaling.md. Without it the router has no opinion.
if os.environ.get("GRASSROOTS_REPLICA_URL"):
    DATABASES["replica"] = dj_database_url.parse(
        os.environ["GRASSROOTS_REPLICA_URL"],
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
    DATABASES["replica"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env_int("GRASSROOTS_REPLICA_CONNECT_TIMEOUT", 2)
    )
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["grassroots.core.routers.ReplicaRouter"]

# --- Accounts -------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# Two documented password profiles: "mlps" (等级保护, the default) and "asvs" (OWASP ASVS 5).
PASSWORD_PROFILE = os.environ.get("GRASSROOTS_PASSWORD_PROFILE", "mlps")
if PASSWORD_PROFILE not in ("mlps", "asvs"):
    raise ImproperlyConfigured("GRASSROOTS_PASSWORD_PROFILE is mlps or asvs.")
_DJANGO_VALIDATORS = "django.contrib.auth.password_validation."
AUTH_PASSWORD_VALIDATORS = {
    # 8+ characters of three kinds, not a recent password, changed every 90 days.
    "mlps": [
        {"NAME": _DJANGO_VALIDATORS + "UserAttributeSimilarityValidator"},
        {"NAME": _DJANGO_VALIDATORS + "MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
        {"NAME": "grassroots.accounts.passwords.ComplexityValidator"},
        {"NAME": _DJANGO_VALIDATORS + "CommonPasswordValidator"},
        {"NAME": "grassroots.accounts.passwords.HistoryValidator", "OPTIONS": {"count": 5}},
    ],
    # 12 to 128 characters, not on the bundled breached/common list, no composition rules or rotation.
    "asvs": [
        {"NAME": _DJANGO_VALIDATORS + "UserAttributeSimilarityValidator"},
        {"NAME": _DJANGO_VALIDATORS + "MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
        {"NAME": "grassroots.accounts.passwords.MaximumLengthValidator", "OPTIONS": {"max_length": 128}},
        {"NAME": _DJANGO_VALIDATORS + "CommonPasswordValidator"},
    ],
}[PASSWORD_PROFILE]
AUTHENTICATION_BACKENDS = ["grassroots.accounts.security.LockoutBackend"]
SESSION_COOKIE_AGE = env_int("GRASSROOTS_SESSION_AGE", 8 * 3600)

# --- Internationalisation -------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("GRASSROOTS_TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

# --- Static files (all vendored: government intranets have no internet) ---------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("GRASSROOTS_STATIC_ROOT", DATA_DIR / "static"))
if not PRODUCTION:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns about a missing root
# Outside production WhiteNoise serves straight from the apps' static folders, no collectstatic needed.
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# --- Security -------------------------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("GRASSROOTS_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("GRASSROOTS_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

LOG_FORMAT = os.environ.get("GRASSROOTS_LOG_FORMAT", "text")
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured("GRASSROOTS_LOG_FORMAT is text or json.")
# One line per request, never with its query string (grassroots.core.health.RequestLogMiddleware).
REQUEST_LOG_LEVEL = os.environ.get("GRASSROOTS_REQUEST_LOG_LEVEL") or (
    "INFO" if LOG_FORMAT == "json" else "WARNING"
)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # json: one object per line: time, level, logger, message, request id, method, path, status, duration
    "formatters": {"json": {"()": "grassroots.core.health.JsonFormatter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            **({"formatter": "json"} if LOG_FORMAT == "json" else {}),
        },
    },
    "root": {"handlers": ["console"], "level": os.environ.get("GRASSROOTS_LOG_LEVEL", "WARNING")},
    "loggers": {"grassroots.request": {"level": REQUEST_LOG_LEVEL}},
}

# --- Grassroots -----------------------------------------------------------------------------------
GRASSROOTS = {
    # Grid generation defaults (see grassroots.areas.grids).
    "URBAN_GRID_HOUSEHOLDS": env_int("GRASSROOTS_URBAN_GRID_HOUSEHOLDS", 300),
    "VILLAGE_GRID_MAX_HOUSEHOLDS": env_int("GRASSROOTS_VILLAGE_GRID_MAX_HOUSEHOLDS", 300),
    "VILLAGE_GRID_HOUSEHOLDS": env_int("GRASSROOTS_VILLAGE_GRID_HOUSEHOLDS", 150),
    "MICROGRID_HOUSEHOLDS": env_int("GRASSROOTS_MICROGRID_HOUSEHOLDS", 30),
    "PAGE_SIZE": env_int("GRASSROOTS_PAGE_SIZE", 50),
    # Cases: working day, reopen period, map bounds (min lng, min lat, max lng, max lat), notifications.
    "WORKDAY": (
        os.environ.get("GRASSROOTS_WORKDAY_OPENS", "08:30"),
        os.environ.get("GRASSROOTS_WORKDAY_CLOSES", "17:30"),
    ),
    "REOPEN_DAYS": env_int("GRASSROOTS_REOPEN_DAYS", 30),
    "BOUNDS": [float(x) for x in os.environ.get("GRASSROOTS_BOUNDS", "112.9,37.6,114.1,38.5").split(",")],
    "NOTIFY_CHANNELS": env_list("GRASSROOTS_NOTIFY_CHANNELS"),
    "WEBHOOK_URL": os.environ.get("GRASSROOTS_WEBHOOK_URL", ""),
    # Accounts (see grassroots.accounts.security).
    "PASSWORD_PROFILE": PASSWORD_PROFILE,
    "PASSWORD_MAX_AGE_DAYS": env_int("GRASSROOTS_PASSWORD_MAX_AGE_DAYS", 90),
    "TOTP_REQUIRED": env_bool("GRASSROOTS_TOTP_REQUIRED", PRODUCTION),
    "IDLE_MINUTES": env_int("GRASSROOTS_IDLE_MINUTES", 30),
    # Registry imports: run in a background thread of the web process (thread), at upload (inline),
    # or only by `grassroots worker` (worker); limits per file.
    "IMPORT_RUN": os.environ.get("GRASSROOTS_IMPORT_RUN", "thread"),
    "IMPORT_MAX_BYTES": env_int("GRASSROOTS_IMPORT_MAX_MB", 20) * 1024 * 1024,
    "IMPORT_MAX_ROWS": env_int("GRASSROOTS_IMPORT_MAX_ROWS", 200_000),
    # Public reporting: reports and wrong tracking codes per address per hour.
    "PUBLIC_REPORTS_PER_HOUR": env_int("GRASSROOTS_PUBLIC_REPORTS_PER_HOUR", 5),
    "TRACK_ATTEMPTS_PER_HOUR": env_int("GRASSROOTS_TRACK_ATTEMPTS_PER_HOUR", 20),
    "OPEN311_RATE_LIMIT": env_int("GRASSROOTS_OPEN311_RATE_LIMIT", 60),
    # Proxies whose X-Forwarded-For is believed (nginx on the same machine: 127.0.0.1).
    "TRUSTED_PROXIES": env_list("GRASSROOTS_TRUSTED_PROXIES"),
    # Read replica (see grassroots.core.routers).
    "REPLICA_MAX_LAG": float(os.environ.get("GRASSROOTS_REPLICA_MAX_LAG") or 10),
    "REPLICA_PIN_SECONDS": env_int("GRASSROOTS_REPLICA_PIN_SECONDS", 15),
    "REPLICA_CHECK_SECONDS": float(os.environ.get("GRASSROOTS_REPLICA_CHECK_SECONDS") or 5),
    "REPLICA_PATHS": env_list(
        "GRASSROOTS_REPLICA_PATHS", "/cockpit/,/public/,/open311/,/coverage/,/api/v1/cockpit/"
    ),
}
MEDIA_ROOT = Path(os.environ.get("GRASSROOTS_MEDIA_ROOT", DATA_DIR / "media"))
EMAIL_BACKEND = os.environ.get("GRASSROOTS_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("GRASSROOTS_FROM_EMAIL", "grassroots@localhost")
# Messages may carry a one-time password: keep them server-side, never in a (signed, readable) cookie.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
