"""Servlet descriptions: Markdown rendered to HTML, then sanitised with nh3.

Raw HTML in the source is escaped by the renderer and the output passes an allow-list of
tags, attributes and URL schemes, so script tags and ``javascript:`` links come out inert.
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

_renderer = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")

ALLOWED_TAGS = {
    "p", "br", "hr", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li",
    "h1", "h2", "h3", "h4", "h5", "h6", "a", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}}


def render_markdown(source: str) -> Markup:
    """Markdown to HTML a page may show: two layers on purpose, each enough on its own."""
    return Markup(sanitise(_renderer.render(source or "")))  # noqa: S704  (sanitised)


def sanitise(html: str) -> str:
    """Keep only the allowed tags, attributes and URL schemes of ``html``."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
