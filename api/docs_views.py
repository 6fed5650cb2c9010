"""The API reference page: Swagger UI over ``/api/v1/openapi.json``, from static files only.

Swagger UI 5 (``static/api/swagger-ui/``, copied from the npm package: the PyPI bundle ships
4.x, which cannot read OpenAPI 3.1) and ``static/api/docs.js``, which starts it, are this
site's own scripts, so the page needs no exception to the Content-Security-Policy: no inline
script, no CDN. The page also explains each problem ``type`` (anchors ``problem-<slug>``).
"""

from __future__ import annotations

from flask import render_template
from flask.typing import ResponseReturnValue

from api import bp
from api.problems import KINDS, PREFIX


@bp.get(f"{PREFIX}/docs", endpoint="docs")
def docs_page() -> ResponseReturnValue:
    return render_template("api/docs.html", problems=KINDS)
