"""Every setting the application reads, in one place.

Each setting comes from an environment variable of the same name; ``SETTINGS`` is the
single list the README's configuration table is checked against.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("SECRET_KEY", "generated into instance/secret_key", "Signs sessions and tokens."),
    Setting("DATABASE_URL", "sqlite:///instance/servlet_desk.sqlite", "SQLAlchemy database URL."),
    Setting("MAIL_SERVER", "(unset: console and outbox page)", "SMTP host for outgoing email."),
    Setting("MAIL_PORT", "25", "SMTP port."),
    Setting("MAIL_USERNAME", "(unset)", "SMTP user, when the server wants a login."),
    Setting("MAIL_PASSWORD", "(unset)", "SMTP password."),
    Setting("MAIL_USE_TLS", "false", "Use STARTTLS with the SMTP server."),
    Setting("MAIL_SENDER", "Servlet Desk <no-reply@servlet-desk.test>", "From address."),
    Setting(
        "RATELIMIT_STORAGE_URI", "memory://", "Rate-limit store; redis://... with several hosts."
    ),
    Setting(
        "SIGN_IN_RATE_LIMIT", "5 per minute", "Failed sign-ins allowed per address and account."
    ),
    Setting("TOKEN_MAX_AGE_HOURS", "24", "Lifetime of password-reset and invitation links."),
    Setting(
        "SESSION_COOKIE_SECURE", "true unless debug", "Send the session cookie over HTTPS only."
    ),
    Setting("PREFERRED_URL_SCHEME", "http", "Scheme of links in emails (https in production)."),
    Setting("SERVER_NAME", "(unset)", "Host name for links built outside a request."),
    Setting(
        "STRIPE_SECRET_KEY",
        "(unset: card payment hidden)",
        "Stripe secret key (sk_...) of the deployment's account; card payment needs both keys.",
    ),
    Setting(
        "STRIPE_WEBHOOK_SECRET",
        "(unset: card payment hidden)",
        "Signing secret (whsec_...) of the endpoint /webhooks/stripe.",
    ),
    Setting(
        "STRIPE_API_BASE",
        "https://api.stripe.com",
        "Stripe API address; tests and development point it at a local fake.",
    ),
    Setting(
        "STRIPE_TIMEOUT_SECONDS",
        "5",
        "Longest wait for one answer from Stripe (one retry after a network error).",
    ),
    Setting(
        "TRUSTED_PROXIES",
        "0",
        "Proxies in front of the app whose X-Forwarded-For/-Proto/-Host to trust (1 behind one).",
    ),
    Setting(
        "DELIVERABLE_MAX_MB",
        "15",
        "Largest deliverable file in MB (at most 16: one request's limit).",
    ),
    Setting(
        "SCHEDULER_IN_PROCESS",
        "false (make run: true)",
        "Run the background jobs inside the web process (development server only).",
    ),
    Setting("API_RATE_LIMIT", "600 per minute", "Requests allowed per API token."),
    Setting(
        "WEBHOOKS_ALLOW_HTTP",
        "false (debug: true)",
        "Let outbound webhook endpoints use plain http.",
    ),
    Setting(
        "WEBHOOKS_ALLOW_PRIVATE",
        "false (debug: true)",
        "Let outbound webhooks reach loopback and private-network addresses.",
    ),
    Setting(
        "WEBHOOKS_TIMEOUT_SECONDS",
        "5",
        "Longest wait to connect to, and then for the answer of, a webhook endpoint.",
    ),
)


def _flag(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _secret_key(instance_path: Path) -> str:
    """A dev key kept in the instance folder, so sessions survive restarts without a constant."""
    key_file = instance_path / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(48))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def from_environment(instance_path: Path, debug: bool) -> dict[str, object]:
    """Flask configuration built from the environment with safe defaults."""
    env = os.environ
    instance_path.mkdir(parents=True, exist_ok=True)
    default_db = f"sqlite:///{instance_path / 'servlet_desk.sqlite'}"
    config: dict[str, object] = {
        "SECRET_KEY": env.get("SECRET_KEY") or _secret_key(instance_path),
        "SQLALCHEMY_DATABASE_URI": env.get("DATABASE_URL") or default_db,
        "MAIL_SERVER": env.get("MAIL_SERVER", ""),
        "MAIL_PORT": int(env.get("MAIL_PORT", "25")),
        "MAIL_USERNAME": env.get("MAIL_USERNAME", ""),
        "MAIL_PASSWORD": env.get("MAIL_PASSWORD", ""),
        "MAIL_USE_TLS": _flag(env.get("MAIL_USE_TLS", "false")),
        "MAIL_SENDER": env.get("MAIL_SENDER", "Servlet Desk <no-reply@servlet-desk.test>"),
        "RATELIMIT_STORAGE_URI": env.get("RATELIMIT_STORAGE_URI", "memory://"),
        "SIGN_IN_RATE_LIMIT": env.get("SIGN_IN_RATE_LIMIT", "5 per minute"),
        "TOKEN_MAX_AGE_HOURS": int(env.get("TOKEN_MAX_AGE_HOURS", "24")),
        "SESSION_COOKIE_SECURE": _flag(env.get("SESSION_COOKIE_SECURE", str(not debug))),
        "PREFERRED_URL_SCHEME": env.get("PREFERRED_URL_SCHEME", "http"),
        "STRIPE_SECRET_KEY": env.get("STRIPE_SECRET_KEY", ""),
        "STRIPE_WEBHOOK_SECRET": env.get("STRIPE_WEBHOOK_SECRET", ""),
        "STRIPE_API_BASE": env.get("STRIPE_API_BASE", "https://api.stripe.com"),
        "STRIPE_TIMEOUT_SECONDS": float(env.get("STRIPE_TIMEOUT_SECONDS", "5")),
        "SCHEDULER_IN_PROCESS": _flag(env.get("SCHEDULER_IN_PROCESS", "false")),
        "TRUSTED_PROXIES": int(env.get("TRUSTED_PROXIES", "0")),
        "DELIVERABLE_MAX_MB": float(env.get("DELIVERABLE_MAX_MB", "15")),
        "API_RATE_LIMIT": env.get("API_RATE_LIMIT", "600 per minute"),
        "WEBHOOKS_ALLOW_HTTP": _flag(env.get("WEBHOOKS_ALLOW_HTTP", str(debug))),
        "WEBHOOKS_ALLOW_PRIVATE": _flag(env.get("WEBHOOKS_ALLOW_PRIVATE", str(debug))),
        "WEBHOOKS_TIMEOUT_SECONDS": float(env.get("WEBHOOKS_TIMEOUT_SECONDS", "5")),
    }
    if env.get("SERVER_NAME"):
        config["SERVER_NAME"] = env["SERVER_NAME"]
    return config


FIXED: dict[str, object] = {
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "BOOTSTRAP_SERVE_LOCAL": True,
    "WTF_CSRF_TIME_LIMIT": None,
    "RATELIMIT_HEADERS_ENABLED": True,
    "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
}
