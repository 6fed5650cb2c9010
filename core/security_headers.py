"""Response headers that tell browsers what this app's pages may do.

The Content-Security-Policy allows scripts, styles, fonts and images from this site only
(Bootstrap is served locally; its CSS draws icons from ``data:`` SVGs), no inline scripts or
``style`` attributes, no plugins, no framing, and forms that post here. ``form-action`` also
lists Stripe Checkout, because the pay-by-card form posts here and the answer redirects
there, and browsers apply ``form-action`` to the redirect too. HSTS is sent only on HTTPS
responses (``request.is_secure``; behind a proxy that terminates TLS, the WSGI server must
be told which proxy to trust, as gunicorn does with ``forwarded_allow_ips``).
"""

from __future__ import annotations

from flask import Flask, request
from werkzeug.wrappers import Response

STRIPE_CHECKOUT = "https://checkout.stripe.com"

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        f"form-action 'self' {STRIPE_CHECKOUT}",
        "frame-ancestors 'none'",
    )
)

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}

# Two years, subdomains included: what the HSTS preload list asks for.
STRICT_TRANSPORT_SECURITY = "max-age=63072000; includeSubDomains"


def init_app(app: Flask) -> None:
    app.after_request(add_security_headers)


def add_security_headers(response: Response) -> Response:
    """Set every header a view has not set itself."""
    headers = response.headers
    for name, value in HEADERS.items():
        headers.setdefault(name, value)
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY)
    return response
