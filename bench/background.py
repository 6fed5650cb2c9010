"""``make bench``, second part: does a request still answer quickly while the background
work it asked for (SMTP, PDFs, Stripe) is being done?

Builds a SQLite database with the demo data plus one servlet with a required text intake
question, published in a demo buyer's catalog. Serves it with gunicorn (2 workers), runs the
scheduler as its own process (``flask scheduler run``, same environment), a loopback SMTP
server that takes 1 s per message and the test suite's fake Stripe. Then:

- places orders on account one after another through the real pages (add to cart, open
  checkout, post it with a 2,000-character Chinese answer), timing only the placing POST;
  each order is confirmed at once, so it queues engagements, an order form PDF and emails;
- posts distinct, correctly signed Stripe events to ``/webhooks/stripe`` from a few client
  threads at once, while the scheduler still works through the mail those orders queued.

Prints ``name: value`` lines.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from decimal import Decimal
from html.parser import HTMLParser
from http.cookiejar import CookieJar
from pathlib import Path

from sqlalchemy import create_engine, func, select

from accounts.models import Organization
from bench.demo import demo_shop
from bench.server import free_port, gunicorn, scheduler
from catalog import catalogs, servlets
from catalog.content import ServletContent
from catalog.models import BillingPolicy, DeliveryMode, LifecycleStage, ServletKind
from core.extensions import db
from core.money import Money
from core.queue import QueuedJob
from ordering import carts
from tests.smtp import smtp_server
from tests.stripe_fake import FakeStripe

BUYER = "buyer@blue.example"
PASSWORD = "servlet-demo-1"  # noqa: S105  (the printed demo password)
ANSWER = ("数据迁移计划" * 334)[:2000]  # the longest answer a text question takes
SMTP_SECONDS_PER_MESSAGE = 1.0
WARM_UP_ORDERS = 4  # one or two per worker: imports, compiled SQL, templates
ORDERS = 40
WEBHOOK_CLIENTS = 4
WEBHOOKS_PER_CLIENT = 50
# A writer waits up to 15 s for SQLite's lock (core.db), so a slow phase is cut short rather
# than left to run for many minutes; the printed sample counts say when that happened.
ORDER_SECONDS = 150
WEBHOOK_SECONDS = 60


# --- the database --------------------------------------------------------------------------


@dataclass(frozen=True)
class Offer:
    servlet_id: int
    catalog_id: int


def intake_servlet(price: Money) -> ServletContent:
    return ServletContent(
        title="Benchmark Data Migration",
        kind=ServletKind.DEPLOYMENT,
        stage=LifecycleStage.ONBOARDING,
        outcome="The customer's data moved and checked, measured by the order bench.",
        summary="A fixed-price service with a long intake answer.",
        delivery_mode=DeliveryMode.REMOTE,
        duration_days=5,
        effort_hours=24,
        price=price,
        billing_policy=BillingPolicy.PREPAID,
        start_within_days=5,
        deliver_within_days=10,
        csat_target=Decimal("4.5"),
        deliverables=[{"title": "Migration plan", "description": "What moves, and when."}],
        intake_questions=[{"label": "Goals", "type": "text", "required": True, "choices": []}],
    )


def populate(database_url: str) -> Offer:
    """Demo data, one servlet with a text intake question in the buyer's first catalog priced
    under the customer's approval threshold (so an order confirms at once), and an empty
    cart for the buyer (the demo leaves a servlet in it)."""
    with demo_shop(database_url, BUYER) as shop:
        vendor = db.session.get(Organization, shop.buyer.vendor_id)
        threshold = db.session.get(
            Organization, shop.buyer.organization_id
        ).approval_threshold_minor
        # A quarter of the threshold: a line left over by a failed placement still confirms.
        amount = 50_000 if threshold is None else min(50_000, threshold // 4)
        servlet = servlets.create_servlet(
            shop.admin, intake_servlet(Money(amount, vendor.currency))
        )
        servlets.publish_servlet(shop.admin, servlet)
        catalogs.add_item(shop.admin, shop.catalog, servlet.id)
        cart = carts.cart_of(shop.buyer)
        for line in list(cart.lines) if cart is not None else []:
            carts.remove_line(shop.buyer, line.id)
        return Offer(servlet.id, shop.catalog.id)


# --- a browser -----------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object) -> None:
        return None  # the 3xx comes back as the answer (urllib raises it as HTTPError)


@dataclass
class Answer:
    status: int
    location: str
    body: str
    milliseconds: float


class Browser:
    """Cookies and form posts over plain urllib, redirects followed by hand so that a timed
    request is exactly one request."""

    def __init__(self, base: str) -> None:
        self.base = base
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(CookieJar()), _NoRedirect()
        )

    def request(self, path: str, fields: dict[str, str] | None = None) -> Answer:
        data = urllib.parse.urlencode(fields).encode() if fields is not None else None
        started = time.perf_counter()
        try:
            with self._opener.open(self.base + path, data=data, timeout=60) as response:
                status, headers, body = response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:  # 3xx, 4xx and 5xx
            status, headers, body = error.code, error.headers, error.read()
        elapsed = (time.perf_counter() - started) * 1000
        return Answer(status, headers.get("Location", ""), body.decode(), elapsed)

    def visit(self, path: str, fields: dict[str, str] | None = None) -> Answer:
        """Post or get, then follow redirects as a browser would (it shows the flashes)."""
        answer = self.request(path, fields)
        while answer.status in (301, 302, 303):
            answer = self.request(urllib.parse.urlsplit(answer.location).path)
        return answer

    def sign_in(self, email: str, password: str) -> None:
        form = Form.of(self.visit("/sign-in").body)
        answer = self.visit("/sign-in", {**form.fields, "email": email, "password": password})
        if "/sign-in" in answer.body and 'name="password"' in answer.body:
            raise RuntimeError("sign-in failed")


@dataclass
class Form:
    """The named inputs, textareas and select options of a page's forms."""

    fields: dict[str, str] = field(default_factory=dict)
    textareas: list[str] = field(default_factory=list)
    options: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def of(cls, html: str) -> Form:
        parser = _FormParser()
        parser.feed(html)
        return parser.form


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.form = Form()
        self._select = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        name = attributes.get("name", "")
        if tag == "input" and name and attributes.get("type") != "checkbox":
            self.form.fields[name] = attributes.get("value", "")
        elif tag == "textarea" and name:
            self.form.textareas.append(name)
        elif tag == "select":
            self._select = name
        elif tag == "option" and self._select:
            self.form.options.setdefault(self._select, []).append(attributes.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = ""


# --- placing orders ------------------------------------------------------------------------


@dataclass(frozen=True)
class Placement:
    milliseconds: float | None  # of the placing POST; None when it was never sent
    placed: bool  # it landed on a new order


def place_order(browser: Browser, offer: Offer) -> Placement:
    """Add the servlet, open checkout and place the order on account, as a browser does."""
    token = Form.of(browser.visit("/cart").body).fields["csrf_token"]
    browser.visit(
        "/cart/add",
        {
            "csrf_token": token,
            "servlet_id": str(offer.servlet_id),
            "catalog_id": str(offer.catalog_id),
            "quantity": "1",
        },
    )
    checkout = Form.of(browser.visit("/checkout").body)
    intake = [name for name in checkout.textareas if name.startswith("intake-")]
    if not intake or "invoice" not in checkout.options.get("payment_route", []):
        return Placement(None, placed=False)  # the cart did not take the servlet
    fields = {
        "csrf_token": checkout.fields["csrf_token"],
        "checkout_token": checkout.fields["checkout_token"],
        "terms_version": checkout.fields["terms_version"],
        "po_number": "",
        "payment_route": "invoice",
        "accept_terms": "y",
        **dict.fromkeys(intake, ANSWER),
    }
    answer = browser.request("/checkout", fields)
    if answer.status != 302 or "/orders/" not in answer.location:
        return Placement(answer.milliseconds, placed=False)
    browser.visit(urllib.parse.urlsplit(answer.location).path)  # the order page, untimed
    return Placement(answer.milliseconds, placed=True)


@dataclass(frozen=True)
class Samples:
    milliseconds: list[float]
    errors: int

    @property
    def p99(self) -> float:
        """The 99th percentile, interpolated between the two nearest samples."""
        if len(self.milliseconds) < 2:
            return self.milliseconds[0] if self.milliseconds else float("nan")
        return statistics.quantiles(self.milliseconds, n=100, method="inclusive")[98]


def order_placements(base: str, offer: Offer) -> Samples:
    """``ORDERS`` placements by one signed-in buyer, one after another (a buyer has one cart),
    after ``WARM_UP_ORDERS`` that are not counted; fewer if ``ORDER_SECONDS`` run out. Every
    placing POST sent is a sample, answered well or not; a placement that made no order is
    an error."""
    browser = Browser(base)
    browser.sign_in(BUYER, PASSWORD)
    for _ in range(WARM_UP_ORDERS):
        place_order(browser, offer)
    deadline = time.monotonic() + ORDER_SECONDS
    placements: list[Placement] = []
    while len(placements) < ORDERS and time.monotonic() < deadline:
        placements.append(place_order(browser, offer))
    return Samples(
        [p.milliseconds for p in placements if p.milliseconds is not None],
        sum(not p.placed for p in placements),
    )


# --- Stripe webhooks -----------------------------------------------------------------------


Event = tuple[bytes, dict[str, str]]  # a body and its Stripe-Signature header


def completed_sessions(fake: FakeStripe, count: int) -> list[Event]:
    """Signed ``checkout.session.completed`` events about new sessions, made before the clock
    starts (the signatures stay valid for Stripe's five minutes). The app knows none of the
    sessions, which only matters to the scheduler: the endpoint verifies and records."""
    return [
        fake.event(
            "checkout.session.completed",
            fake.add_session({"order_id": "0", "vendor_id": "0"}, 10_000),
        )
        for _ in range(count)
    ]


def post_event(base: str, event: Event) -> tuple[int, float]:
    body, headers = event
    request = urllib.request.Request(  # noqa: S310  (loopback)
        base + "/webhooks/stripe",
        data=body,
        headers={**headers, "Content-Type": "application/json"},
    )
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    return status, (time.perf_counter() - started) * 1000


def webhook_deliveries(base: str, fake: FakeStripe) -> Samples:
    """``WEBHOOK_CLIENTS`` threads each posting ``WEBHOOKS_PER_CLIENT`` distinct events in a
    row (fewer if ``WEBHOOK_SECONDS`` run out)."""
    results: list[tuple[int, float]] = []
    lock = threading.Lock()

    def client(events: list[Event]) -> None:
        for event in events:
            if time.monotonic() > deadline:
                return
            result = post_event(base, event)
            with lock:
                results.append(result)

    threads = [
        threading.Thread(target=client, args=(completed_sessions(fake, WEBHOOKS_PER_CLIENT),))
        for _ in range(WEBHOOK_CLIENTS)
    ]
    deadline = time.monotonic() + WEBHOOK_SECONDS
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Samples([ms for _, ms in results], sum(status != 200 for status, _ in results))


def order_forms_waiting(database_url: str) -> int:
    """Order form PDFs queued but not rendered when the bench stopped: the scheduler's
    backlog, which a PDF that renders slowly makes grow."""
    engine = create_engine(database_url)
    with engine.connect() as connection:
        waiting = connection.scalar(
            select(func.count())
            .select_from(QueuedJob)
            .where(QueuedJob.kind == "order_form", QueuedJob.done_at.is_(None))
        )
    engine.dispose()
    return waiting


# --- the run -------------------------------------------------------------------------------


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="servlet-desk-bench-background-"))
    database_url = f"sqlite:///{workdir / 'bench.sqlite'}"
    offer = populate(database_url)
    smtp_port = free_port()
    fake = FakeStripe().start()
    env = {
        "DATABASE_URL": database_url,
        "SECRET_KEY": "bench-secret-key",
        "SESSION_COOKIE_SECURE": "false",
        "RATELIMIT_STORAGE_URI": "memory://",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp_port),
        **fake.app_config,
    }
    try:
        with (
            smtp_server(smtp_port, delay=SMTP_SECONDS_PER_MESSAGE) as inbox,
            scheduler(env, workdir / "scheduler.log"),
            gunicorn(env) as base,
        ):
            orders = order_placements(base, offer)
            webhooks = webhook_deliveries(base, fake)
            emails_sent = len(inbox.messages)
    finally:
        fake.stop()
    forms_waiting = order_forms_waiting(database_url)
    print(f"order_place_samples: {len(orders.milliseconds)}")
    print(f"order_place_p99_ms: {orders.p99:.1f}")
    print(f"order_place_median_ms: {statistics.median(orders.milliseconds or [0]):.1f}")
    print(f"order_place_errors: {orders.errors}")
    print(f"webhook_samples: {len(webhooks.milliseconds)}")
    print(f"webhook_p99_ms: {webhooks.p99:.1f}")
    print(f"webhook_median_ms: {statistics.median(webhooks.milliseconds):.1f}")
    print(f"webhook_errors: {webhooks.errors}")
    print(f"emails_sent_meanwhile: {emails_sent}")
    print(f"order_forms_waiting: {forms_waiting}")


if __name__ == "__main__":
    main()
