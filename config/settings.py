"""Django settings, read from the environment (decisions §10).

With no configuration the service runs on SQLite, the local-memory cache and an in-process event
log.
``DATABASE_URL`` (PostgreSQL) and ``REDIS_URL`` switch to the shared services.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.env import (
    env_bool,
    env_file_path,
    env_int,
    env_list,
    env_secret,
    env_str,
    env_url,
    load_env_file,
)

BASE_DIR = Path(__file__).resolve().parent.parent

TESTING = "pytest" in sys.modules or env_bool("TESTING", False)

# One configuration for every process of the checkout (issue 22): ``.env`` (or the file ENV_FILE
# names) under the environment. The test suite reads it only when ENV_FILE names it, so that a
# production .env in a developer's checkout never points the tests at its database.
ENV_FILE = env_file_path()
ENV_FILE_VALUES = load_env_file(ENV_FILE) if env_str("ENV_FILE") or not TESTING else {}

DEBUG = env_bool("DEBUG", False)
# One mechanism for every process of a checkout: SECRET_KEY from the environment, else the
# ``.secret_key`` file ``make run`` writes. DEBUG never supplies a key: a key that changed between
# processes would leave secrets sealed by one unreadable by the other.
SECRET_KEY_FILE = BASE_DIR / ".secret_key"
SECRET_KEY = env_secret("SECRET_KEY", SECRET_KEY_FILE)
if not SECRET_KEY:
    if TESTING:
        SECRET_KEY = "insecure-test-key-do-not-use-in-production"
    else:
        raise ImproperlyConfigured(
            f"SECRET_KEY is not set and {SECRET_KEY_FILE} does not exist: run `make run` once "
            "(it writes the file) or set SECRET_KEY"
        )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
PUBLIC_BASE_URL = env_url("PUBLIC_BASE_URL", schemes=("http", "https")).rstrip("/")
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0, maximum=10)
CSRF_TRUSTED_ORIGINS = [PUBLIC_BASE_URL] if PUBLIC_BASE_URL else []
# Served over https: browsers send the session and CSRF cookies only over https.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = PUBLIC_BASE_URL.startswith("https://")
if TRUSTED_PROXY_COUNT > 0:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "config",
    "accounts",
    "workspaces",
    "oauth_device",
    "sso",
    "apps_runtime",
    "uploads",
]

MIDDLEWARE = [
    "config.api.middleware.OpenAPIBoundaryMiddleware",
    "config.api.text.ClientTextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "config.api.browser.BrowserOnlyMiddleware",
]
# Run (by BrowserOnlyMiddleware) for pages, the admin and SESSION_API_PATHS; skipped for the bearer
# and anonymous API, which reads no cookie (a quarter of a bearer request's time went here).
BROWSER_MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
# The admin's and CSRF checks look in MIDDLEWARE only; tests/test_browser_middleware.py checks
# BROWSER_MIDDLEWARE instead.
SILENCED_SYSTEM_CHECKS = ["admin.E408", "admin.E409", "admin.E410", "security.W003"]
# API routes authenticated by a browser session (+ CSRF) rather than a bearer.
SESSION_API_PATHS = frozenset({"/openapi/v1/oauth/device/approve", "/openapi/v1/oauth/device/deny"})

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"
APPEND_SLASH = False
X_FRAME_OPTIONS = "DENY"
CSRF_FAILURE_VIEW = "config.api.views.csrf_failure"

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

# --- database ---------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
DB_POOL_MAX = env_int("DB_POOL_MAX", 10, minimum=1, maximum=200)
# > 0: persistent per-thread connections (CONN_MAX_AGE) instead of the pool. For WSGI worker
# threads only (serve-prod's gunicorn): under ASGI persistent connections are not reused.
DB_PERSISTENT_SECONDS = env_int("DB_PERSISTENT_SECONDS", 0, minimum=0, maximum=3600)
if DATABASE_URL:
    if not DATABASE_URL.startswith(("postgres://", "postgresql://")):
        raise ImproperlyConfigured("DATABASE_URL must be a postgres:// or postgresql:// URL")
    try:
        _db = dj_database_url.parse(DATABASE_URL)
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from None
    # Django's backend, checking each pooled connection as it is handed out: one whose server
    # process was killed (pg_terminate_backend, a restart) is replaced, not a failed request.
    _db["ENGINE"] = "config.postgres"
    _db.setdefault("OPTIONS", {})
    if DB_PERSISTENT_SECONDS:
        _db["CONN_MAX_AGE"] = DB_PERSISTENT_SECONDS
        _db["CONN_HEALTH_CHECKS"] = True
    else:
        _db["CONN_MAX_AGE"] = 0
        _db["OPTIONS"]["pool"] = {"min_size": 1, "max_size": DB_POOL_MAX, "timeout": 10}
    _db["TEST"] = {"NAME": f"test_{_db['NAME']}"}
    DATABASES = {"default": _db}
else:
    if ENV_FILE_VALUES.get("DATABASE_URL"):
        # The production configuration names PostgreSQL but this process's environment blanked
        # it: stop rather than write to the embedded SQLite the server never reads.
        raise ImproperlyConfigured(
            f"{ENV_FILE} sets DATABASE_URL, but this process's environment sets it empty, so it "
            "would use the embedded SQLite database instead: unset DATABASE_URL "
            "(`env -u DATABASE_URL …`) and run again"
        )
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_str("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
            # Tests use a file, not SQLite's shared-cache memory database: run jobs write from
            # worker threads, and shared-cache table locks fail at once instead of waiting.
            "TEST": {"NAME": str(BASE_DIR / f".test-db.sqlite3-{os.getpid()}")},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- cache, rate limits ---------------------------------------------------------------------
REDIS_URL = env_url("REDIS_URL", schemes=("redis", "rediss", "unix"))
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "difyapi",
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": 2,
                "SOCKET_TIMEOUT": 2,
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Tests set a fresh prefix per test so counters never leak between tests or CI runs.
RATE_LIMIT_KEY_PREFIX = env_str("RATE_LIMIT_KEY_PREFIX", "rl")
# Limits guarding secrets (user codes, passwords) refuse with 503 + this Retry-After while the
# cache is unreachable; every limiter logs an outage at most once per interval.
RATE_LIMIT_OUTAGE_RETRY_AFTER_SECONDS = env_int(
    "RATE_LIMIT_OUTAGE_RETRY_AFTER_SECONDS", 30, minimum=1
)
RATE_LIMIT_OUTAGE_LOG_SECONDS = env_int("RATE_LIMIT_OUTAGE_LOG_SECONDS", 60, minimum=1)
# The 503 answered while the database or the event log's Redis cannot be reached: its Retry-After.
SERVICE_UNAVAILABLE_RETRY_AFTER_SECONDS = env_int(
    "SERVICE_UNAVAILABLE_RETRY_AFTER_SECONDS", 5, minimum=1
)

CHANNEL_LAYERS: dict[str, dict[str, str]] = {}

# --- auth -------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.Account"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/device"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Password guessing on /accounts/login/ and /admin/login/: failed attempts per account name and
# per client IP within one window; past either, a 429 page until the window ends.
LOGIN_FAILURES_PER_ACCOUNT = env_int("LOGIN_FAILURES_PER_ACCOUNT", 5, minimum=1)
LOGIN_FAILURES_PER_IP = env_int("LOGIN_FAILURES_PER_IP", 20, minimum=1)
LOGIN_FAILURE_WINDOW_SECONDS = env_int("LOGIN_FAILURE_WINDOW_SECONDS", 900, minimum=1)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

# --- API --------------------------------------------------------------------------------------
DIFY_COMPAT_VERSION = env_str("DIFY_COMPAT_VERSION", "1.15.0")
OAUTH_TTL_DAYS = env_int("OAUTH_TTL_DAYS", 14, minimum=1, maximum=365)
OPENAPI_KNOWN_CLIENT_IDS = env_list("OPENAPI_KNOWN_CLIENT_IDS", ["difyctl"])
OPENAPI_RATE_LIMIT_PER_TOKEN = env_int("OPENAPI_RATE_LIMIT_PER_TOKEN", 60, minimum=0)
OPENAPI_ACCOUNT_RATE_LIMIT_PER_MINUTE = env_int(
    "OPENAPI_ACCOUNT_RATE_LIMIT_PER_MINUTE", 60, minimum=0
)
# External SSO (issue 23): the device flow's OpenID Connect branch.
SSO_HTTP_TIMEOUT_SECONDS = env_int("SSO_HTTP_TIMEOUT_SECONDS", 10, minimum=1, maximum=60)
SSO_STATE_TTL_SECONDS = env_int("SSO_STATE_TTL_SECONDS", 600, minimum=60, maximum=3600)
SSO_APPROVAL_GRANT_TTL_SECONDS = env_int(
    "SSO_APPROVAL_GRANT_TTL_SECONDS", 300, minimum=10, maximum=900
)
SSO_APPROVE_PER_EMAIL_PER_HOUR = env_int("SSO_APPROVE_PER_EMAIL_PER_HOUR", 10, minimum=0)
MAX_REQUEST_BODY_BYTES = env_int("MAX_REQUEST_BODY_BYTES", 1024 * 1024, minimum=1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BODY_BYTES
# App DSL imports (command, admin, API): the file, and what its YAML aliases expand to, in bytes.
MAX_DSL_BYTES = env_int("MAX_DSL_BYTES", 10 * 1024 * 1024, minimum=1024)
MAX_DSL_EXPANDED_BYTES = env_int("MAX_DSL_EXPANDED_BYTES", 20 * 1024 * 1024, minimum=1024)
# The admin's DSL upload accepts a whole DSL file plus its multipart framing.
ADMIN_DSL_UPLOAD_MAX_BYTES = env_int(
    "ADMIN_DSL_UPLOAD_MAX_BYTES", MAX_DSL_BYTES + 64 * 1024, minimum=MAX_DSL_BYTES
)
# Deeper JSON bodies are a 400 (Python's decoder would otherwise recurse into a 500).
MAX_JSON_DEPTH = env_int("MAX_JSON_DEPTH", 100, minimum=2, maximum=500)
LAST_USED_WRITE_INTERVAL_SECONDS = 60
# DSL import over the API: a pending import (newer DSL version) waits this long for its confirm;
# a yaml-url file may be at most this large.
DSL_IMPORT_PENDING_SECONDS = env_int("DSL_IMPORT_PENDING_SECONDS", 600, minimum=1)
DSL_IMPORT_MAX_BYTES = env_int("DSL_IMPORT_MAX_BYTES", 10 * 1024 * 1024, minimum=1024)
# yaml-url fetches in progress at once across every web process; more answer 429 at once, so slow
# sources cannot hold every WSGI worker for an outbound deadline (keep it below the workers).
DSL_IMPORT_URL_CONCURRENCY = env_int("DSL_IMPORT_URL_CONCURRENCY", 2, minimum=1, maximum=64)
# File uploads for run inputs (POST /apps/{id}/files): size and type limits, and how long an
# upload no run used is kept. The upload routes get UPLOAD_MAX_BYTES plus the multipart overhead
# as their request body limit instead of MAX_REQUEST_BODY_BYTES.
UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_BYTES", 15 * 1024 * 1024, minimum=1)
UPLOAD_MULTIPART_OVERHEAD_BYTES = env_int("UPLOAD_MULTIPART_OVERHEAD_BYTES", 16 * 1024, minimum=0)
UPLOAD_ALLOWED_EXTENSIONS = env_list(
    "UPLOAD_ALLOWED_EXTENSIONS",
    # Dify's image, document, audio and video extensions.
    "jpg jpeg png webp gif svg txt md markdown mdx pdf html htm xlsx xls docx csv eml msg pptx "
    "ppt xml epub json yaml yml mp3 m4a wav amr mpga mp4 mov mpeg webm".split(),
)
UPLOAD_RETENTION_SECONDS = env_int("UPLOAD_RETENTION_SECONDS", 24 * 3600, minimum=1)
# Housekeeping removes stored upload files no row owns (a failed write) once this old.
UPLOAD_ORPHAN_GRACE_SECONDS = env_int("UPLOAD_ORPHAN_GRACE_SECONDS", 3600, minimum=1)
MEDIA_ROOT = env_str("MEDIA_ROOT", str(BASE_DIR / "media"))
# Workspace members: how long an invitation link for a new account stays valid.
MEMBER_INVITATION_TTL_SECONDS = env_int("MEMBER_INVITATION_TTL_SECONDS", 72 * 3600, minimum=60)

# Device flow (issue: OAuth device flow). Every number is a setting so tests can shrink it.
DEVICE_CODE_TTL_SECONDS = env_int("DEVICE_CODE_TTL_SECONDS", 900, minimum=60)
DEVICE_POLL_INTERVAL_SECONDS = env_int("DEVICE_POLL_INTERVAL_SECONDS", 5, minimum=1)
DEVICE_CODE_PER_IP_PER_HOUR = env_int("DEVICE_CODE_PER_IP_PER_HOUR", 60, minimum=1)
DEVICE_PENDING_PER_IP = env_int("DEVICE_PENDING_PER_IP", 20, minimum=1)
DEVICE_LOOKUP_PER_IP_PER_5_MIN = env_int("DEVICE_LOOKUP_PER_IP_PER_5_MIN", 60, minimum=1)
DEVICE_DECISIONS_PER_ACCOUNT_PER_HOUR = env_int(
    "DEVICE_DECISIONS_PER_ACCOUNT_PER_HOUR", 10, minimum=1
)
DEVICE_WRONG_CODES_PER_ACCOUNT_PER_15_MIN = env_int(
    "DEVICE_WRONG_CODES_PER_ACCOUNT_PER_15_MIN", 5, minimum=1
)
DEVICE_WRONG_CODES_PER_IP_PER_HOUR = env_int("DEVICE_WRONG_CODES_PER_IP_PER_HOUR", 20, minimum=1)

# Streams and runs (used by the run engine issue).
SSE_MAX_STREAMS_PER_TOKEN = env_int("SSE_MAX_STREAMS_PER_TOKEN", 10, minimum=1)
SSE_MAX_SECONDS = env_int("SSE_MAX_SECONDS", 3600, minimum=1)
SSE_PING_SECONDS = env_int("SSE_PING_SECONDS", 10, minimum=1)
SSE_IDLE_SECONDS = env_int("SSE_IDLE_SECONDS", 300, minimum=1)
# A stream's slot is a lease renewed while the stream runs: a slot whose holder vanished (a killed
# process) is free again after this long.
SSE_SLOT_LEASE_SECONDS = env_int("SSE_SLOT_LEASE_SECONDS", 20, minimum=3, maximum=30)
# Bytes daphne may hold for a stream's client that does not read; past it the client is dropped.
SSE_MAX_BUFFERED_BYTES = env_int("SSE_MAX_BUFFERED_BYTES", 4 * 1024 * 1024, minimum=16 * 1024)
RUN_STARTS_PER_MINUTE = env_int("RUN_STARTS_PER_MINUTE", 60, minimum=0)
# Runs of one caller executing (or waiting for a worker) at once; 0 = no cap (issue 16).
RUN_MAX_ACTIVE_PER_SUBJECT = env_int("RUN_MAX_ACTIVE_PER_SUBJECT", 8, minimum=0)
# Where jobs run (decisions §7, docs/decisions/17-celery.md): ``thread``, a pool in each server
# process (the embedded default of ``make run``), or ``celery``, workers on their own queue.
RUN_EXECUTOR = env_str("RUN_EXECUTOR", "thread")
if RUN_EXECUTOR not in {"thread", "celery"}:
    raise ImproperlyConfigured(f"RUN_EXECUTOR must be 'thread' or 'celery', not {RUN_EXECUTOR!r}")
if RUN_EXECUTOR == "celery" and not (DATABASE_URL and REDIS_URL):
    raise ImproperlyConfigured(
        "RUN_EXECUTOR=celery needs DATABASE_URL (PostgreSQL) and REDIS_URL (the broker) to be set"
    )
RUN_WORKERS = env_int("RUN_WORKERS", 16, minimum=1, maximum=256)
RUN_QUEUE = env_int("RUN_QUEUE", 256, minimum=1)
# The Celery broker: REDIS_URL unless set apart (another Redis, or another database number).
RUN_BROKER_URL = env_url("RUN_BROKER_URL", schemes=("redis", "rediss")) or REDIS_URL
RUN_CELERY_QUEUE = env_str("RUN_CELERY_QUEUE", "runs")
RUN_BROKER_TIMEOUT_SECONDS = env_int("RUN_BROKER_TIMEOUT_SECONDS", 2, minimum=1, maximum=60)
# Celery only: a job waiting in the broker has no heartbeat, so a run that never started is failed
# by the stale sweep only after this long (it may wait behind others, or be reserved by a worker
# that died and come back after the visibility timeout, half of this).
RUN_START_TIMEOUT_SECONDS = env_int("RUN_START_TIMEOUT_SECONDS", 600, minimum=2)
# At most once (docs/decisions/17-celery.md): a task is acknowledged when a worker starts it, so a
# worker that dies mid-run never has it redelivered (the stale sweep fails the run); a worker
# reserves one task beyond those it runs; a reserved but unstarted task comes back after the
# visibility timeout (checked every ``unacked_restore_interval``), and the job's claim on the run
# row (started_at) keeps a second delivery from executing anything.
_VISIBILITY_TIMEOUT = max(1, RUN_START_TIMEOUT_SECONDS // 2)
CELERY_BROKER_URL = RUN_BROKER_URL
CELERY_BROKER_CONNECTION_TIMEOUT = RUN_BROKER_TIMEOUT_SECONDS
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": _VISIBILITY_TIMEOUT,
    "unacked_restore_interval": max(1, min(10, _VISIBILITY_TIMEOUT // 4)),
    "unacked_restore_throttle": 1,
    "socket_timeout": RUN_BROKER_TIMEOUT_SECONDS,
    "socket_connect_timeout": RUN_BROKER_TIMEOUT_SECONDS,
}
CELERY_TASK_DEFAULT_QUEUE = RUN_CELERY_QUEUE
CELERY_TASK_ACKS_LATE = False
CELERY_TASK_IGNORE_RESULT = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Threads: jobs wait on model streams (I/O), and the worker's main thread keeps answering
# remote control (``celery inspect active``, Flower) while they run.
CELERY_WORKER_POOL = "threads"
CELERY_WORKER_CONCURRENCY = RUN_WORKERS
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_WORKER_SEND_TASK_EVENTS = False
RUN_HEARTBEAT_SECONDS = env_int("RUN_HEARTBEAT_SECONDS", 5, minimum=1)
RUN_STALE_SECONDS = env_int("RUN_STALE_SECONDS", 30, minimum=2)
HOUSEKEEPING_SECONDS = env_int("HOUSEKEEPING_SECONDS", 15, minimum=1)
EVENT_LOG_RETENTION_SECONDS = env_int("EVENT_LOG_RETENTION_SECONDS", 86400, minimum=1)
HITL_GLOBAL_TIMEOUT_SECONDS = env_int("HITL_GLOBAL_TIMEOUT_SECONDS", 0, minimum=0)
HTTP_NODE_ALLOWED_HOSTS = env_list("HTTP_NODE_ALLOWED_HOSTS", [])
# Outbound HTTP to app-supplied URLs (apps_runtime/engine/outbound.py; security.md 26).
OUTBOUND_CONNECT_TIMEOUT_SECONDS = env_int("OUTBOUND_CONNECT_TIMEOUT_SECONDS", 10, minimum=1)
OUTBOUND_TIMEOUT_SECONDS = env_int("OUTBOUND_TIMEOUT_SECONDS", 60, minimum=1)
OUTBOUND_MAX_REDIRECTS = env_int("OUTBOUND_MAX_REDIRECTS", 5, minimum=0, maximum=20)
OUTBOUND_MAX_RESPONSE_BYTES = env_int("OUTBOUND_MAX_RESPONSE_BYTES", 10 * 1024 * 1024, minimum=1)
# The total time one outbound call may take, redirects and body included (decisions 16); also
# the ceiling for a caller's own deadline. Well under the WSGI worker timeout (SERVE_WSGI_TIMEOUT).
OUTBOUND_DEADLINE_SECONDS = env_int("OUTBOUND_DEADLINE_SECONDS", 30, minimum=1, maximum=60)
# How often a waiting outbound or model call asks whether its run was stopped.
OUTBOUND_STOP_POLL_MS = env_int("OUTBOUND_STOP_POLL_MS", 250, minimum=10, maximum=1000)
# The http-request node (dsl.md 4.8): ceilings for its timeouts, and its response size caps.
HTTP_NODE_MAX_CONNECT_TIMEOUT = env_int("HTTP_NODE_MAX_CONNECT_TIMEOUT", 10, minimum=1)
HTTP_NODE_MAX_READ_TIMEOUT = env_int("HTTP_NODE_MAX_READ_TIMEOUT", 600, minimum=1)
HTTP_NODE_MAX_WRITE_TIMEOUT = env_int("HTTP_NODE_MAX_WRITE_TIMEOUT", 600, minimum=1)
HTTP_NODE_MAX_TEXT_BYTES = env_int("HTTP_NODE_MAX_TEXT_BYTES", 1024 * 1024, minimum=1)
HTTP_NODE_MAX_BINARY_BYTES = env_int("HTTP_NODE_MAX_BINARY_BYTES", 10 * 1024 * 1024, minimum=1)
# Certificate checking when a node's ssl_verify is null (false only for private test setups).
HTTP_NODE_SSL_VERIFY = env_bool("HTTP_NODE_SSL_VERIFY", True)
# The document-extractor node: the largest file it reads (uploads and remote URLs alike) and the
# most pages of a PDF it reads (a longer PDF fails the node naming the file).
DOCUMENT_EXTRACTOR_MAX_BYTES = env_int("DOCUMENT_EXTRACTOR_MAX_BYTES", 15 * 1024 * 1024, minimum=1)
DOCUMENT_EXTRACTOR_MAX_PAGES = env_int("DOCUMENT_EXTRACTOR_MAX_PAGES", 500, minimum=1)
# Containers (dsl.md 4.13): items an iteration takes, threads a parallel iteration uses, rounds
# a loop may declare.
ITERATION_MAX_ITEMS = env_int("ITERATION_MAX_ITEMS", 1000, minimum=1)
ITERATION_MAX_PARALLEL = env_int("ITERATION_MAX_PARALLEL", 10, minimum=1, maximum=100)
LOOP_MAX_COUNT = env_int("LOOP_MAX_COUNT", 100, minimum=1)
# Tools of agents and tool nodes (apps_runtime/tools): every call's overall deadline, the size of
# what a tool may return (to the model and to the node's outputs), and calls per run.
TOOL_CALL_DEADLINE_SECONDS = env_int("TOOL_CALL_DEADLINE_SECONDS", 30, minimum=1)
TOOL_MAX_OUTPUT_BYTES = env_int("TOOL_MAX_OUTPUT_BYTES", 64 * 1024, minimum=1)
TOOL_MAX_RESPONSE_BYTES = env_int("TOOL_MAX_RESPONSE_BYTES", 1024 * 1024, minimum=1)
TOOL_MAX_CALLS_PER_RUN = env_int("TOOL_MAX_CALLS_PER_RUN", 50, minimum=1)
# Template rendering limits (template-transform output, jinja2 prompts).
TEMPLATE_TRANSFORM_MAX_LENGTH = env_int("TEMPLATE_TRANSFORM_MAX_LENGTH", 400_000, minimum=1)
# A render's budget (decisions 16; apps_runtime/engine/jinja_sandbox.py): thread CPU time, wall
# time, bytes of values built, and the largest integer (bits) any operation may produce.
TEMPLATE_RENDER_CPU_SECONDS = env_int("TEMPLATE_RENDER_CPU_SECONDS", 5, minimum=1)
TEMPLATE_RENDER_WALL_SECONDS = env_int("TEMPLATE_RENDER_WALL_SECONDS", 30, minimum=1)
TEMPLATE_RENDER_MEMORY_BYTES = env_int(
    "TEMPLATE_RENDER_MEMORY_BYTES", 64 * 1024 * 1024, minimum=1024 * 1024
)
TEMPLATE_MAX_INT_BITS = env_int("TEMPLATE_MAX_INT_BITS", 4096, minimum=64)
# The sandbox for tenant code (apps_runtime/sandbox; docs/decisions/18-sandbox.md): its tools and
# the limits of one execution (defaults: Dify's sandbox where it has one).
SANDBOX_BWRAP = env_str("SANDBOX_BWRAP", "/usr/bin/bwrap")
SANDBOX_PRLIMIT = env_str("SANDBOX_PRLIMIT", "/usr/bin/prlimit")
SANDBOX_PYTHON = env_str("SANDBOX_PYTHON", "/usr/bin/python3")
SANDBOX_NODE = env_str("SANDBOX_NODE", "/usr/bin/node")
SANDBOX_UID = env_int("SANDBOX_UID", 65534, minimum=1)
SANDBOX_WALL_SECONDS = env_int("SANDBOX_WALL_SECONDS", 15, minimum=1)
SANDBOX_CPU_SECONDS = env_int("SANDBOX_CPU_SECONDS", 10, minimum=1)
SANDBOX_MEMORY_MB = env_int("SANDBOX_MEMORY_MB", 256, minimum=32)
SANDBOX_OUTPUT_BYTES = env_int("SANDBOX_OUTPUT_BYTES", 1024 * 1024, minimum=1024)
SANDBOX_MAX_PROCESSES = env_int("SANDBOX_MAX_PROCESSES", 64, minimum=16)
SANDBOX_SCRATCH_MB = env_int("SANDBOX_SCRATCH_MB", 16, minimum=1)
# Sandboxes started ahead, per language and limits (0: every execution starts its own).
SANDBOX_SPARES = env_int("SANDBOX_SPARES", 1, minimum=0, maximum=8)
# What a code node's main may return (dsl.md 4.10; Dify's code node limits).
CODE_MAX_STRING_LENGTH = env_int("CODE_MAX_STRING_LENGTH", 80_000, minimum=1)
CODE_MAX_NUMBER = env_int("CODE_MAX_NUMBER", 2**63 - 1, minimum=1)
CODE_MIN_NUMBER = env_int("CODE_MIN_NUMBER", -(2**63))
CODE_MAX_PRECISION = env_int("CODE_MAX_PRECISION", 20, minimum=0, maximum=50)
CODE_MAX_DEPTH = env_int("CODE_MAX_DEPTH", 5, minimum=1)
CODE_MAX_STRING_ARRAY_LENGTH = env_int("CODE_MAX_STRING_ARRAY_LENGTH", 30, minimum=1)
CODE_MAX_OBJECT_ARRAY_LENGTH = env_int("CODE_MAX_OBJECT_ARRAY_LENGTH", 30, minimum=1)
CODE_MAX_NUMBER_ARRAY_LENGTH = env_int("CODE_MAX_NUMBER_ARRAY_LENGTH", 1000, minimum=1)
# Human-input forms are emailed through Django's email backend (console unless configured); the
# link in the email is built from PUBLIC_BASE_URL, else from this (jobs have no request to read).
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1, maximum=65535)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Dify API <noreply@localhost>")
# Links written without a request to read (emailed forms, commands) start with PUBLIC_BASE_URL,
# else with where this server was started: ``make run`` exports SERVE_HOST and SERVE_PORT (its
# HOST and PORT), ``make serve-prod`` reads SERVE_HOST and SERVE_WSGI_PORT (config/public_url.py).
# FORM_LINK_BASE_URL is the older name of the same thing.
SERVE_HOST = env_str("SERVE_HOST", "127.0.0.1")
SERVE_PORT = env_int(
    "SERVE_PORT",
    env_int("SERVE_WSGI_PORT", 8000, minimum=1, maximum=65535),
    minimum=1,
    maximum=65535,
)
_LINK_HOST = "127.0.0.1" if SERVE_HOST in ("0.0.0.0", "::", "") else SERVE_HOST  # noqa: S104
FORM_LINK_BASE_URL = (
    PUBLIC_BASE_URL or env_url("FORM_LINK_BASE_URL", schemes=("http", "https")).rstrip("/")
) or f"http://{_LINK_HOST}:{SERVE_PORT}"
OPENAI_BASE_URL = env_url("OPENAI_BASE_URL", schemes=("http", "https"))
OPENAI_API_KEY = env_str("OPENAI_API_KEY")
# Model provider calls: connecting, and the longest silence between two streamed bytes.
PROVIDER_CONNECT_TIMEOUT_SECONDS = env_int("PROVIDER_CONNECT_TIMEOUT_SECONDS", 10, minimum=1)
PROVIDER_READ_TIMEOUT_SECONDS = env_int("PROVIDER_READ_TIMEOUT_SECONDS", 120, minimum=1)
# How often a streaming provider call asks whether its run was stopped (aborting the call).
PROVIDER_STOP_POLL_MS = env_int("PROVIDER_STOP_POLL_MS", 250, minimum=10, maximum=10_000)
# The total time one model call may take, streaming included (decisions 16: a long answer
# legitimately streams for minutes, so this is not OUTBOUND_DEADLINE_SECONDS).
PROVIDER_DEADLINE_SECONDS = env_int("PROVIDER_DEADLINE_SECONDS", 600, minimum=1, maximum=3600)
# Event log (decisions §6): Redis stream key prefix (tests set one per test) and the length cap
# per run stream (every streamed token is an event; the oldest go first past the cap).
EVENT_LOG_KEY_PREFIX = env_str("EVENT_LOG_KEY_PREFIX", "runevents")
EVENT_LOG_MAX_ENTRIES = env_int("EVENT_LOG_MAX_ENTRIES", 100_000, minimum=100)
# The longest single XREAD BLOCK (a longer wait returns empty early; readers loop anyway).
EVENT_LOG_MAX_BLOCK_SECONDS = env_int("EVENT_LOG_MAX_BLOCK_SECONDS", 30, minimum=1, maximum=300)
# Redis connections one server process may open for waiting streams: each open stream blocks in
# XREAD on a connection of its own. redis-py's asyncio default (100) ended every stream past the
# 100th at once as "event log unavailable" (issue 21's bench); Redis' own maxclients (10,000 by
# default) is the other bound.
EVENT_LOG_MAX_CONNECTIONS = env_int("EVENT_LOG_MAX_CONNECTIONS", 10_000, minimum=10)
SECRETS_ENCRYPTION_KEY = env_str("SECRETS_ENCRYPTION_KEY")
if SECRETS_ENCRYPTION_KEY:
    try:
        from cryptography.fernet import Fernet

        Fernet(SECRETS_ENCRYPTION_KEY.encode())
    except (ValueError, TypeError):
        raise ImproperlyConfigured(
            "SECRETS_ENCRYPTION_KEY must be a Fernet key (32 url-safe base64-encoded bytes)"
        ) from None
DEMO_PASSWORD = env_str("DEMO_PASSWORD", "demo-password")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_RENDERER_CLASSES": ["config.api.renderers.ApiJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["config.api.parsers.BoundedJSONParser"],
    "EXCEPTION_HANDLER": "config.api.errors.api_exception_handler",
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "config.api.negotiation.LenientContentNegotiation",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Dify-compatible user-scoped API",
    "DESCRIPTION": (
        "User-scoped programmatic API (bearer auth), served under /openapi/v1.\n\n"
        "[← Back to the front page](/) · [Approve a device login](/device) · [Admin](/admin/)"
        "\n\n**Getting a token for *Authorize*:** log in from a terminal with "
        "`difyctl auth login` (or the device flow in the README: `POST "
        "/openapi/v1/oauth/device/code`, approve at [/device](/device), then poll `POST "
        "/openapi/v1/oauth/device/token`), or, on the server, run `manage.py issue_token "
        "EMAIL`. Paste the `dfoa_…` token into **Authorize** (without `Bearer`)."
    ),
    "VERSION": "1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/openapi/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "AppMode": "apps_runtime.models.AppMode",
        "MemberRole": "workspaces.models.Membership.Role",
        "AssignableRole": "workspaces.models.ASSIGNABLE_ROLES",
        "MemberStatus": "workspaces.serializers.MEMBER_STATUSES",
        "AppImportStatus": "apps_runtime.models.AppImport.Status",
    },
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "apps_runtime.runs.schema.add_sse_endpoints",
        "config.api.schema.add_bad_text_response",
    ],
}

LANGUAGE_CODE = "en-us"
FORMAT_MODULE_PATH = ["config.formats"]
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured("LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.request": {"level": "ERROR"}},
}
