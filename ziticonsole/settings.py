"""Settings for the identity controller.

One flat file: every value comes from the environment with a safe default, so the
embedded default (SQLite and PKI in ./var) needs no configuration at all.
"""

import datetime as dt
import os
from pathlib import Path

from environs import Env

env = Env()

BASE_DIR = Path(__file__).resolve().parent.parent

# Keys, the SQLite database and generated secrets live here, outside the source tree.
DATA_DIR = Path(env.str("ZITI_DATA_DIR", str(BASE_DIR / "var"))).resolve()

# The advertised controller address: the JWT `iss` is https://ADDRESS:PORT.
ZITI_CTRL_ADDRESS = env.str("ZITI_CTRL_ADDRESS", "localhost")
ZITI_CTRL_PORT = env.int("ZITI_CTRL_PORT", 1280)
ZITI_CTRL_BIND = env.str("ZITI_CTRL_BIND", "127.0.0.1")
# The port this process listens on; differs from ZITI_CTRL_PORT only behind a proxy,
# where ZITI_CTRL_PORT is the proxy's, the one devices reach.
ZITI_CTRL_LISTEN_PORT = env.int("ZITI_CTRL_LISTEN_PORT", ZITI_CTRL_PORT)
# A TLS-terminating proxy forwards the client certificate in ZITI_CLIENT_CERT_HEADER.
# The header is believed only from a peer that proves it is the proxy: a connection on
# ZITI_PROXY_SOCKET (plain HTTP, mode 0660), or one presenting a proxy certificate of
# our PKI (`manage.py proxy_certificate`). ZITI_TRUSTED_PROXIES, if set, narrows that
# further to these addresses; an address alone proves nothing.
ZITI_PROXY_SOCKET = env.str("ZITI_PROXY_SOCKET", "")
ZITI_TRUSTED_PROXIES: list[str] = env.list("ZITI_TRUSTED_PROXIES", [])
ZITI_CLIENT_CERT_HEADER = env.str("ZITI_CLIENT_CERT_HEADER", "X-Client-Cert")
# Encrypts the PKI's keys at rest (PKCS#8, the best encryption cryptography offers);
# the file form keeps the passphrase out of the process environment.
ZITI_KEY_PASSPHRASE = env.str("ZITI_KEY_PASSPHRASE", "")
ZITI_KEY_PASSPHRASE_FILE = env.str("ZITI_KEY_PASSPHRASE_FILE", "")
# API sessions end after this long unused, and this long after they opened, whatever.
ZITI_API_SESSION_IDLE_MINUTES = env.int("ZITI_API_SESSION_IDLE_MINUTES", 30)
ZITI_API_SESSION_MAX_MINUTES = env.int("ZITI_API_SESSION_MAX_MINUTES", 720)
# How long after redeeming a token the same device (the same key) may ask again and
# get the same certificate, when the first answer was lost on the way; 0 turns it off.
ZITI_ENROLLMENT_RETRY_SECONDS = env.int("ZITI_ENROLLMENT_RETRY_SECONDS", 300)
ZITI_ENROLLMENT_DURATION = env.int("ZITI_ENROLLMENT_DURATION", 1440)  # minutes
ZITI_IDENTITY_CERT_DAYS = env.int("ZITI_IDENTITY_CERT_DAYS", 365)
# How long a published CRL is good for (its nextUpdate); it is rebuilt at half of that,
# and at once when a certificate is revoked.
ZITI_CRL_VALIDITY_HOURS = env.int("ZITI_CRL_VALIDITY_HOURS", 24)
# Threads per worker that run Django; connections wait on the event loop, not here.
ZITI_SERVER_THREADS = env.int("ZITI_SERVER_THREADS", 8)
# What one connection may cost (seconds and bytes); see ziticonsole/server.py.
ZITI_HEADER_TIMEOUT = env.float("ZITI_HEADER_TIMEOUT", 10.0)  # TLS handshake + headers, or keep-alive idle
ZITI_BODY_TIMEOUT = env.float("ZITI_BODY_TIMEOUT", 30.0)
ZITI_PROXY_IDLE_TIMEOUT = env.float("ZITI_PROXY_IDLE_TIMEOUT", 300.0)  # the proxy's keep-alive connections
ZITI_MAX_REQUEST_LINE = env.int("ZITI_MAX_REQUEST_LINE", 8192)
ZITI_MAX_HEADER_BYTES = env.int("ZITI_MAX_HEADER_BYTES", 32768)
ZITI_MAX_HEADERS = env.int("ZITI_MAX_HEADERS", 100)
ZITI_MAX_API_BODY = env.int("ZITI_MAX_API_BODY", 1024 * 1024)
ZITI_MAX_CONSOLE_BODY = env.int("ZITI_MAX_CONSOLE_BODY", 10 * 1024 * 1024)
# Server processes sharing the port; each uses its own core for TLS and Python work.
ZITI_WORKERS = env.int("ZITI_WORKERS", os.cpu_count() or 1)


def _secret_key() -> str:
    """The Django secret: from the environment, else the one generated into DATA_DIR.

    Only `serve` writes that file (at the first start); any other process before then
    gets a throw-away secret, so that no command leaves a stray data directory behind.
    """
    configured = env.str("DJANGO_SECRET_KEY", "")
    if configured:
        return configured
    path = DATA_DIR / "secret-key"
    if path.exists():
        return path.read_text().strip()
    import secrets

    return secrets.token_urlsafe(50)


SECRET_KEY_FROM_ENV = bool(env.str("DJANGO_SECRET_KEY", ""))
SECRET_KEY = _secret_key()
DEBUG = env.bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", ZITI_CTRL_ADDRESS])

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "axes",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "crispy_forms",
    "crispy_bootstrap5",
    "ziticonsole",
    "audit",
    "identities",
    "authorities",
    "enrollment",
]

MIDDLEWARE = [
    # First, so `//enroll` resolves like `/enroll` (wire-protocol.md).
    "ziticonsole.middleware.collapse_slashes",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Login is the default for every view; the enrollment API opts out explicitly.
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Before any view reads the body (CSRF's check is the first), so it needs messages.
    "ziticonsole.middleware.console_body_limit",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "enrollment.middleware.client_certificate",
    # After it: the admin's address is the one it settled behind the proxy.
    "ziticonsole.middleware.console_actor",
    "ziticonsole.middleware.content_security_policy",
    # Last, as django-axes asks: it turns a lockout into our throttled login page.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    # First: it refuses a throttled account or address before the password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Failed logins are counted per account and, separately, per address; past the limit
# both are refused, with the same words whether the account exists or not, until the
# cool-off ends (or `manage.py axes_reset`).
AXES_FAILURE_LIMIT = env.int("ZITI_LOGIN_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env.int("ZITI_LOGIN_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "ziticonsole.views.login_throttled"
AXES_VERBOSE = False

ROOT_URLCONF = "ziticonsole.urls"
WSGI_APPLICATION = "ziticonsole.wsgi.application"

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
            ],
        },
    },
]

DATABASES = {"default": env.dj_db_url("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'controller.sqlite3'}")}
# Server threads keep their database connection between requests; health checks drop
# broken ones. On SQLite too: closing the last connection checkpoints the WAL, which
# cost a millisecond per request.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"]["CONN_MAX_AGE"] = env.int("ZITI_DB_CONN_MAX_AGE", 60)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["ENGINE"] = "ziticonsole.db.sqlite3"
    # WAL lets readers run beside the writer; IMMEDIATE takes the write lock at BEGIN,
    # so concurrent writers queue on the busy timeout instead of failing with
    # "database is locked" when a read transaction tries to upgrade.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }

if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # psycopg sends parameters apart from the statement instead of quoting them into
    # it in Python: measured, about 9% more enrollments per second. Statements are not
    # prepared (Django's default): with them an import of 10,000 rows took minutes, not
    # 20 s, once PostgreSQL chose generic plans.
    DATABASES["default"].setdefault("OPTIONS", {})["server_side_binding"] = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# WhiteNoise serves straight from the finders, so no collectstatic step is needed.
WHITENOISE_USE_FINDERS = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "identities:list"
LOGOUT_REDIRECT_URL = "login"

# The console is only ever served over HTTPS.
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
# Browsers that once reached the console keep to HTTPS; the controller serves nothing else.
SECURE_HSTS_SECONDS = env.int("ZITI_HSTS_SECONDS", 31536000)
# Our own origin only, and no inline script or style: an injected tag does nothing.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURE_CONTENT_TYPE_NOSNIFF = True
# A stale tab's form: a styled page that says to reload, not Django's debugging text.
CSRF_FAILURE_VIEW = "ziticonsole.views.csrf_failure"
X_FRAME_OPTIONS = "DENY"

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

REST_FRAMEWORK = {
    # The enrollment API authenticates by TLS client certificate or zt-session header,
    # never by console session cookie.
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "enrollment.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
# The management API's session check (enrollment layer), named here so that the apps
# below it can share kernel.api's view without importing it.
ZITI_MANAGEMENT_AUTHENTICATION = "enrollment.management_api.ManagementSessionAuthentication"
# Our OpenAPI documents (ziticonsole/management_urls.py); the console's API page serves
# Swagger UI from drf_spectacular_sidecar's static files.
SPECTACULAR_SETTINGS = {
    "VERSION": "1.0.0",
    "SERVE_PUBLIC": True,
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {
            "()": "ziticonsole.logs.SingleLineFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        }
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("ZITI_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.server": {"level": "WARNING"},
        # Twisted's notes on each client it times out or drops; ours are one line each.
        "twisted": {"level": "WARNING"},
    },
}
