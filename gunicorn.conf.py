"""gunicorn settings, read from the working directory by ``gunicorn wsgi:app``.

Command-line flags override these (``make bench`` sets its own port and worker count).
"""

import gc
import os

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))


def post_worker_init(worker: object) -> None:
    """Move the loaded app out of the garbage collector's reach.

    Modules, routes, templates and mappers live as long as the worker; without this, every
    full collection walks all of them (about 120 ms here), stalling whichever request it
    lands in. Requests allocate short-lived objects only, which young collections handle.
    """
    gc.collect()
    gc.freeze()
