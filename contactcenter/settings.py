"""Settings, all read from the environment (django-environ; a `.env` file is honoured).

The defaults run a fresh clone with no services: SQLite, and the embedded Redis that
`contactcenter.devstack` starts on a unix socket under `.run/`. Production sets DATABASE_URL,
REDIS_URL, SECRET_KEY, ALLOWED_HOSTS and PUBLIC_BASE_URL; see `.env.example`.
"""

import secrets
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
RUN_DIR = BASE_DIR / ".run"
EMBEDDED_REDIS_SOCKET = RUN_DIR / "redis.sock"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (see .env.example).")
    SECRET_KEY = "insecure-development-key-never-use-in-production"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# The URL the outside world (Twilio, Meta, browsers) reaches us on. Webhook signatures are
# computed over it, so behind a proxy it must be the public scheme and host.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://localhost:8000").rstrip("/")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "axes",
    "crm",
    "telephony",
    "channels_inbox",
    "surveys",
    "campaigns",
    "contactcenter",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "crm.middleware.UserTimezoneMiddleware",
    # After authentication: a signed-in user's own language beats Accept-Language.
    "crm.middleware.UserLanguageMiddleware",
    # Last, so that it sees the outcome of authentication attempts.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "contactcenter.urls"
WSGI_APPLICATION = "contactcenter.wsgi.application"
ASGI_APPLICATION = "contactcenter.asgi.application"

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
                "django.template.context_processors.i18n",
            ],
        },
    },
]

# --- Database ---
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes (web, worker, beat) share the file: wait for locks instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "crm.User"

# --- Redis: broker, channel layer, cache ---
REDIS_URL = env.str("REDIS_URL", default=f"unix://{EMBEDDED_REDIS_SOCKET}")


def _celery_broker_url(redis_url: str) -> str:
    # kombu spells a unix-socket Redis "redis+socket://"; everything else is passed through.
    if redis_url.startswith("unix://"):
        return "redis+socket://" + redis_url.removeprefix("unix://")
    return redis_url


CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="cc"),
    }
}
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL], "prefix": env.str("CHANNEL_PREFIX", default="cc")},
    }
}

CELERY_BROKER_URL = _celery_broker_url(REDIS_URL)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    "expire-routing-offers": {
        "task": "crm.tasks.expire_offers",
        "schedule": 5.0,
    },
}

# --- Auth ---
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# Repeated failed logins: lock the username+address pair for a while (django-axes).
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("LOGIN_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)

SESSION_COOKIE_SECURE = not DEBUG and PUBLIC_BASE_URL.startswith("https://")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- I18n / time ---
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("da", "Dansk"), ("pl", "Polski")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files ---
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
MEDIA_URL = "media/"

# --- REST API ---
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "crm.api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["crm.api.permissions.TenantRolePermission"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "crm.api.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "crm.api.errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        # One bucket per API key or user (DRF's own would count every key as one anonymous IP).
        "crm.api.throttling.AnonRateThrottle",
        "crm.api.throttling.PrincipalRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", default="60/min"),
        "user": env.str("API_THROTTLE_USER", default="1200/min"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Contact center API",
    "DESCRIPTION": "Contacts, organizations, tickets, timeline, agents and queues. "
    "Authenticate with a tenant API key (`Authorization: Api-Key <key>`) or a browser session.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- Providers ---
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_API_KEY_SID = env.str("TWILIO_API_KEY_SID", default="")
TWILIO_API_KEY_SECRET = env.str("TWILIO_API_KEY_SECRET", default="")
TWILIO_TWIML_APP_SID = env.str("TWILIO_TWIML_APP_SID", default="")
# Without credentials every Twilio interaction goes through the simulated provider.
TWILIO_SIMULATED = not (TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN)
# The simulated Twilio signs its webhooks with this token, exactly as Twilio signs with the real
# auth token; webhook verification always uses TWILIO_WEBHOOK_AUTH_TOKEN.
# The development default is public, so with DEBUG off an unset token becomes a random secret
# nobody knows: a production deployment without Twilio credentials then accepts no voice webhook
# at all, rather than forged ones signed with the published default.
TWILIO_SIMULATOR_AUTH_TOKEN = env.str(
    "TWILIO_SIMULATOR_AUTH_TOKEN",
    default="simulated-twilio-auth-token" if DEBUG else secrets.token_urlsafe(32),
)
TWILIO_SIMULATOR_ACCOUNT_SID = "AC" + "5" * 32
TWILIO_WEBHOOK_AUTH_TOKEN = TWILIO_AUTH_TOKEN or TWILIO_SIMULATOR_AUTH_TOKEN
TWILIO_EFFECTIVE_ACCOUNT_SID = TWILIO_ACCOUNT_SID or TWILIO_SIMULATOR_ACCOUNT_SID

# --- Routing ---
ROUTING_OFFER_TIMEOUT_SECONDS = env.int("ROUTING_OFFER_TIMEOUT_SECONDS", default=20)
# An agent who declined or missed an item is not offered it again for this long.
ROUTING_REOFFER_COOLDOWN_SECONDS = env.int(
    "ROUTING_REOFFER_COOLDOWN_SECONDS", default=3 * ROUTING_OFFER_TIMEOUT_SECONDS
)

# --- Telephony ---
# Seconds an agent's softphone rings before the caller goes back to the queue (kept below the
# routing offer timeout, so an offer never expires while the agent's phone still rings).
TELEPHONY_RING_TIMEOUT_SECONDS = env.int("TELEPHONY_RING_TIMEOUT_SECONDS", default=15)
# Audio played to waiting callers between announcements; empty means silence.
TELEPHONY_HOLD_MUSIC_URL = env.str("TELEPHONY_HOLD_MUSIC_URL", default="")
# After-call work: seconds an agent stays in AFTER_CALL_WORK once their call leg ends, unless
# they wrap up earlier; then they are AVAILABLE again. 0 skips after-call work.
TELEPHONY_WRAPUP_SECONDS = env.int("TELEPHONY_WRAPUP_SECONDS", default=60)
# Callbacks ("press 1 to be called back"): calls placed for one request before it fails, minutes
# between unanswered attempts, and minutes after booking when an unreached request expires.
TELEPHONY_CALLBACK_MAX_ATTEMPTS = env.int("TELEPHONY_CALLBACK_MAX_ATTEMPTS", default=3)
TELEPHONY_CALLBACK_RETRY_MINUTES = env.int("TELEPHONY_CALLBACK_RETRY_MINUTES", default=10)
TELEPHONY_CALLBACK_EXPIRY_MINUTES = env.int("TELEPHONY_CALLBACK_EXPIRY_MINUTES", default=240)
# Bridge answered calls through a Twilio conference (`cc-call-<id>`) instead of <Dial><Client>:
# needed for supervisor listen / whisper / barge and warm transfer (docs/decisions/003-*.md).
TELEPHONY_CONFERENCE_BRIDGE = env.bool("TELEPHONY_CONFERENCE_BRIDGE", default=False)
# How often a process re-reads the shared routing-configuration version from Redis (seconds).
TELEPHONY_CONFIG_RECHECK_SECONDS = env.float("TELEPHONY_CONFIG_RECHECK_SECONDS", default=1.0)
CELERY_BEAT_SCHEDULE["callbacks-tick"] = {
    "task": "telephony.tasks.callbacks_tick",
    "schedule": 60.0,
}

# --- Inbox (channels_inbox) ---
# The installation's mail relay, used by email channels without an SMTP server of their own:
# EMAIL_URL=smtp+tls://user:pass@relay:587 (django-environ's URL form). Development prints mail
# on the console instead of sending it.
vars().update(
    environ.Env.email_url_config(
        env.str("EMAIL_URL", default="") or ("consolemail://" if DEBUG else "smtp://localhost:25")
    )
)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="contactcenter@localhost")
# Meta (Messenger, Instagram): one Meta app per installation. Webhook POSTs are verified with the
# app secret (X-Hub-Signature-256); the subscription check answers when the verify token matches.
META_APP_SECRET = env.str("META_APP_SECRET", default="")
META_VERIFY_TOKEN = env.str("META_VERIFY_TOKEN", default="")
META_GRAPH_URL = env.str("META_GRAPH_URL", default="https://graph.facebook.com/v21.0")
# Without an app secret the simulated Meta signs and receives everything (like Twilio above).
META_SIMULATED = not META_APP_SECRET
META_SIMULATOR_APP_SECRET = env.str("META_SIMULATOR_APP_SECRET", default="") or (
    "simulated-meta-app-secret" if DEBUG else secrets.token_urlsafe(32)
)
META_WEBHOOK_APP_SECRET = META_APP_SECRET or META_SIMULATOR_APP_SECRET
# Inbound fax providers sign with this shared secret (header X-Fax-Signature, HMAC-SHA256 of the
# body); the channel token in the URL names the channel.
# An empty value counts as unset: an empty HMAC key would let anyone sign.
FAX_WEBHOOK_SECRET = env.str("FAX_WEBHOOK_SECRET", default="") or (
    "simulated-fax-secret" if DEBUG else secrets.token_urlsafe(32)
)
# Attachments with these extensions are kept out of the inbox (noted on the message).
INBOX_FORBIDDEN_EXTENSIONS = env.list(
    "INBOX_FORBIDDEN_EXTENSIONS",
    default=[
        ".exe",
        ".bat",
        ".cmd",
        ".com",
        ".scr",
        ".pif",
        ".js",
        ".vbs",
        ".msi",
        ".jar",
        ".ps1",
        ".dll",
        ".cpl",
        ".hta",
    ],
)
# Seconds between IMAP polls of each email channel (a Celery beat task).
INBOX_IMAP_POLL_SECONDS = env.int("INBOX_IMAP_POLL_SECONDS", default=60)
CELERY_BEAT_SCHEDULE["poll-imap-mailboxes"] = {
    "task": "channels_inbox.tasks.poll_mailboxes",
    "schedule": float(INBOX_IMAP_POLL_SECONDS),
}
# Fetching a provider's media (MMS, WhatsApp, Meta, fax PDFs): timeout and largest file.
INBOX_MEDIA_FETCH_TIMEOUT = env.float("INBOX_MEDIA_FETCH_TIMEOUT", default=15.0)
INBOX_MEDIA_MAX_BYTES = env.int("INBOX_MEDIA_MAX_BYTES", default=20 * 1024 * 1024)
# Public web forms: submissions per client address.
WEBFORM_RATE_LIMIT = env.str("WEBFORM_RATE_LIMIT", default="5/m")
# Behind a reverse proxy: the request.META key with the visitor's real address (first one used),
# e.g. HTTP_X_REAL_IP; empty uses REMOTE_ADDR.
WEBFORM_CLIENT_IP_HEADER = env.str("WEBFORM_CLIENT_IP_HEADER", default="")
INBOX_IMAP_BATCH_SIZE = env.int("INBOX_IMAP_BATCH_SIZE", default=100)
INBOX_IMAP_MAX_ATTEMPTS = env.int("INBOX_IMAP_MAX_ATTEMPTS", default=3)
INBOX_SENDING_STUCK_MINUTES = env.int("INBOX_SENDING_STUCK_MINUTES", default=15)

# --- Surveys ---
# Web survey links (signed) stop working after this many days.
SURVEY_LINK_MAX_AGE_DAYS = env.int("SURVEY_LINK_MAX_AGE_DAYS", default=14)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"axes": {"level": "WARNING"}},
}
