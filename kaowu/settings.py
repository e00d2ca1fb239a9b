"""Kaowu settings, read from the environment (django-environ).

Every variable is documented in README.md ("Configuration"). The defaults give a working development
site on SQLite with no other service; ``KAOWU_ENV=production`` turns on the production profile, which
refuses to start without the secrets it needs and passes ``manage.py check --deploy``.
"""

from pathlib import Path

import environ
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    env.read_env(BASE_DIR / ".env")

KAOWU_ENV = env.str("KAOWU_ENV", default="development")
PRODUCTION = KAOWU_ENV == "production"

DEBUG = env.bool("DEBUG", default=not PRODUCTION)
if PRODUCTION:
    # No default: a production site must never run on a key that is in the repository.
    SECRET_KEY = env.str("SECRET_KEY")
else:
    SECRET_KEY = env.str("SECRET_KEY", default="dev-only-insecure-key-kaowu-0123456789-abcdefghijklmnopqrstuvwxyz")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[] if PRODUCTION else ["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.forms",
    "django_htmx",
    "captcha",
    "axes",
    "django_ratelimit",
    "auditlog",
    "kaowu.core",
    "kaowu.notifications",
    "kaowu.accounts",
    "kaowu.catalog",
    "kaowu.backoffice",
    "kaowu.applications",
    "kaowu.review",
    "kaowu.results",
    "kaowu.payments",
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
    "django_htmx.middleware.HtmxMiddleware",
    "kaowu.core.middleware.RequestContextMiddleware",
    # Turns django-ratelimit's refusal into RATELIMIT_VIEW (429 with a Chinese message) instead of a 403.
    "django_ratelimit.middleware.RatelimitMiddleware",
    "auditlog.middleware.AuditlogMiddleware",
    # Last, so that it sees failed logins after every other middleware has run.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "kaowu.urls"
WSGI_APPLICATION = "kaowu.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "kaowu" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]
FORM_RENDERER = "kaowu.core.forms.KaowuFormRenderer"

# --- Database -------------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions take SQLite's write lock at BEGIN, so concurrent writers queue instead of
    # failing with "database is locked" half-way through; WAL lets readers proceed meanwhile.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"}
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, Celery --------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "kaowu"}}

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
# Without a broker every task runs in-process at .delay() time, so development and tests need no worker.
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TIMEZONE = "Asia/Shanghai"
CELERY_TASK_ACKS_LATE = True
# Periodic jobs, run by `celery -A kaowu beat` beside the worker (or their management commands from cron).
CELERY_BEAT_SCHEDULE = {
    "release-stale-seats": {"task": "kaowu.applications.tasks.release_stale_seats_task", "schedule": 15 * 60},
    # Expire unpaid orders, close applications left unpaid after the payment window, push refunds on.
    "payments-housekeeping": {"task": "kaowu.payments.tasks.payments_housekeeping_task", "schedule": 5 * 60},
}

# --- Authentication -------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "kaowu.accounts.backends.IdentifierBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "kaowu.accounts.password_validation.LettersAndDigitsValidator"},
    {"NAME": "kaowu.accounts.password_validation.NotDocumentNumberValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "accounts:home"
LOGOUT_REDIRECT_URL = "home"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=2 * 60 * 60)

AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_MINUTES", default=15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_CALLABLE = "kaowu.accounts.views.lockout_response"
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_IPWARE_PROXY_COUNT = env.int("PROXY_COUNT", default=0) or None
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"] if AXES_IPWARE_PROXY_COUNT else ["REMOTE_ADDR"]
)

# auditlog would take the client address from X-Forwarded-For as sent; our AuditEntry records the
# proxy-aware address (kaowu.core.middleware.client_ip) instead.
AUDITLOG_DISABLE_REMOTE_ADDR = True

RATELIMIT_VIEW = "kaowu.core.views.ratelimited"
# W001 only says Django's own RedisCache is not on django-ratelimit's list; it increments atomically (INCRBY),
# which is all the limiter needs. E003 (cache not shared between workers) is fine for one development
# server and fatal in production, where REDIS_URL is required.
SILENCED_SYSTEM_CHECKS = ["django_ratelimit.W001"] + ([] if PRODUCTION else ["django_ratelimit.E003"])

CAPTCHA_IMAGE_SIZE = (120, 40)
CAPTCHA_FONT_SIZE = 30
CAPTCHA_LENGTH = 4
CAPTCHA_TIMEOUT = 5  # minutes
CAPTCHA_TEST_MODE = env.bool("CAPTCHA_TEST_MODE", default=False)

# --- Internationalisation -------------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "kaowu" / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# --- Static and private files ---------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "kaowu" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Uploads (photos, scans) hold personal data: they live outside any web root and are only ever
# served by views that check who is asking (kaowu.accounts.views.photo_file / scan_file).
PRIVATE_MEDIA_ROOT = Path(env.str("KAOWU_PRIVATE_MEDIA_ROOT", default=str(BASE_DIR / "var" / "private")))
MEDIA_ROOT = PRIVATE_MEDIA_ROOT
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- Personal data --------------------------------------------------------------------------------
# Fernet keys for fields encrypted at rest (first one encrypts, all decrypt: rotate by prepending),
# and the HMAC key for exact-match lookup hashes. Development derives both from SECRET_KEY.
if PRODUCTION:
    FIELD_ENCRYPTION_KEYS = env.list("KAOWU_FIELD_ENCRYPTION_KEYS")
    LOOKUP_HASH_KEY = env.str("KAOWU_LOOKUP_HASH_KEY")
else:
    FIELD_ENCRYPTION_KEYS = env.list("KAOWU_FIELD_ENCRYPTION_KEYS", default=[])
    LOOKUP_HASH_KEY = env.str("KAOWU_LOOKUP_HASH_KEY", default="")

# --- ID photos and scans (ACC-7, ACC-8); per-programme limits come later ---------------------------
KAOWU_PHOTO = {
    "MAX_UPLOAD_BYTES": env.int("KAOWU_PHOTO_MAX_BYTES", default=5 * 1024 * 1024),
    "MIN_WIDTH": 215,
    "MIN_HEIGHT": 300,
    "MAX_PIXELS": 40_000_000,
    "OUTPUT_SIZE": (295, 413),
    "OUTPUT_TARGET_BYTES": 10 * 1024,
}
KAOWU_SCAN = {
    "MAX_UPLOAD_BYTES": env.int("KAOWU_SCAN_MAX_BYTES", default=5 * 1024 * 1024),
    "MAX_PIXELS": 40_000_000,
}

# --- Applications (APP-4): who decides auto / online / on-site verification ------------------------
KAOWU_VERIFIER = env.str("KAOWU_VERIFIER", default="kaowu.applications.verification.RuleBasedVerifier")

# --- Payment providers (PAY-2): keys are PEM text or a path to a PEM file --------------------------------
# Which providers candidates may choose, in the order shown. ``sandbox`` (a local stand-in gateway) and
# ``bank`` (网银, backed by the sandbox until a bank gateway is contracted) work offline; production lists
# only real ones.
PAYMENT_PROVIDERS = env.list("PAYMENT_PROVIDERS", default=["alipay", "wechat"] if PRODUCTION else ["sandbox", "bank"])
# The site's public address, for links in SMS/e-mail (receipts) and the gateways' notify/return URLs.
KAOWU_SITE_URL = env.str("KAOWU_SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
PAYMENT_SANDBOX = {
    # Signs the sandbox's notifications; derived from SECRET_KEY unless set.
    "KEY": env.str("PAYMENT_SANDBOX_KEY", default=""),
    # Seconds before the sandbox gateway sends its (first) asynchronous notification.
    "NOTIFY_DELAY": env.int("PAYMENT_SANDBOX_NOTIFY_DELAY", default=2),
}
# Construct a provider (``from_settings()``) only when it is enabled: empty keys fail loudly.
PAYMENT_ALIPAY = {
    "APP_ID": env.str("ALIPAY_APP_ID", default=""),
    "PRIVATE_KEY": env.str("ALIPAY_PRIVATE_KEY", default=""),
    "ALIPAY_PUBLIC_KEY": env.str("ALIPAY_PUBLIC_KEY", default=""),
    "SELLER_ID": env.str("ALIPAY_SELLER_ID", default=""),
    "SANDBOX": env.bool("ALIPAY_SANDBOX", default=True),
    "TIMEOUT": env.int("ALIPAY_TIMEOUT", default=15),
}
PAYMENT_WECHAT = {
    "APP_ID": env.str("WECHAT_APP_ID", default=""),
    "MCH_ID": env.str("WECHAT_MCH_ID", default=""),
    "PRIVATE_KEY": env.str("WECHAT_PRIVATE_KEY", default=""),
    "CERT_SERIAL_NO": env.str("WECHAT_CERT_SERIAL_NO", default=""),
    "APIV3_KEY": env.str("WECHAT_APIV3_KEY", default=""),
    "PUBLIC_KEY": env.str("WECHAT_PUBLIC_KEY", default=""),
    "PUBLIC_KEY_ID": env.str("WECHAT_PUBLIC_KEY_ID", default=""),
    "TIMEOUT": env.int("WECHAT_TIMEOUT", default=15),
}

# --- SMS (pluggable like e-mail backends) ---------------------------------------------------------
SMS_BACKEND = env.str("SMS_BACKEND", default="kaowu.notifications.sms.console.SmsBackend")
SMS_SIGN_NAME = env.str("SMS_SIGN_NAME", default="考务平台")
SMS_ALIYUN = {
    "ACCESS_KEY_ID": env.str("SMS_ALIYUN_ACCESS_KEY_ID", default=""),
    "ACCESS_KEY_SECRET": env.str("SMS_ALIYUN_ACCESS_KEY_SECRET", default=""),
    "ENDPOINT": env.str("SMS_ALIYUN_ENDPOINT", default="dysmsapi.aliyuncs.com"),
    # event key -> Aliyun template code
    "TEMPLATES": env.dict("SMS_ALIYUN_TEMPLATES", default={}),
}
SMS_TENCENT = {
    "SECRET_ID": env.str("SMS_TENCENT_SECRET_ID", default=""),
    "SECRET_KEY": env.str("SMS_TENCENT_SECRET_KEY", default=""),
    "REGION": env.str("SMS_TENCENT_REGION", default="ap-guangzhou"),
    "SDK_APP_ID": env.str("SMS_TENCENT_SDK_APP_ID", default=""),
    # event key -> Tencent template id
    "TEMPLATES": env.dict("SMS_TENCENT_TEMPLATES", default={}),
}
SMS_CODE_TTL_SECONDS = 5 * 60
SMS_CODE_MAX_ATTEMPTS = 5
SMS_RATE_PER_PHONE_MINUTE = 1
SMS_RATE_PER_PHONE_DAY = 10
SMS_RATE_PER_IP_HOUR = env.int("SMS_RATE_PER_IP_HOUR", default=20)

# --- E-mail (copies of notifications, sent by kaowu.notifications.tasks.send_email_task) -----------
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="考务平台 <noreply@kaowu.local>")
# EMAIL_URL sets the SMTP backend with host, port, user, password and TLS/SSL in one value, e.g.
# smtp+tls://user:password@smtp.example.cn:587 (smtp+ssl:// for port 465; URL-encode the password).
if env.str("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))
# Without a timeout a stalled SMTP server would hold a worker (or, with no broker, the request) forever.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)

# --- Logging: sensitive numbers are masked in every record ----------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"mask_personal_data": {"()": "kaowu.core.logging.MaskPersonalDataFilter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["mask_personal_data"]},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django's default config would print these a second time through its own handler.
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "WARNING"},
    },
}

# --- Production hardening -------------------------------------------------------------------------
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # A load balancer's plain-HTTP health check must get 200, not a redirect.
    SECURE_REDIRECT_EXEMPT = [r"^healthz/$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_REFERRER_POLICY = "same-origin"
    X_FRAME_OPTIONS = "DENY"
