"""The forms and links of a rendered page, as a browser would see them: for tests that walk
the app (the fuzzer) instead of listing its pages."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class PageForm:
    method: str
    action: str
    fields: list[tuple[str, str]] = field(default_factory=list)  # what a browser submits
    names: set[str] = field(default_factory=set)  # every field, ticked or not


class FormsAndLinks(HTMLParser):
    """The forms of a page (with the values a browser would submit) and its links."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[PageForm] = []
        self.links: list[str] = []
        self._select: tuple[str, bool, list[str]] | None = None  # name, multiple, options
        self._textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {key: value or "" for key, value in attrs}
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag == "form":
            self.forms.append(PageForm(a.get("method", "get").lower(), a.get("action", "")))
        elif self.forms and a.get("name"):
            self._field(tag, a)
        elif tag == "option" and self._select is not None:
            name, multiple, options = self._select
            options.append(a.get("value", ""))
            if "selected" in a:
                self.forms[-1].fields.append((name, a.get("value", "")))
                self._select = (name, multiple, [])

    def _field(self, tag: str, a: dict[str, str]) -> None:
        form, name = self.forms[-1], a["name"]
        form.names.add(name)
        if tag == "input":
            kind = a.get("type", "text")
            if kind in {"submit", "file", "button"} or (
                kind in {"checkbox", "radio"} and "checked" not in a
            ):
                return
            form.fields.append((name, a.get("value", "on" if kind == "checkbox" else "")))
        elif tag == "select":
            self._select = (name, "multiple" in a, [])
        elif tag == "textarea":
            self._textarea = name
            form.fields.append((name, ""))

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            name, value = self.forms[-1].fields[-1]
            self.forms[-1].fields[-1] = (name, value + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "select" and self._select is not None:
            name, multiple, options = self._select
            if options and not multiple:  # nothing selected: a browser sends the first
                self.forms[-1].fields.append((name, options[0]))
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def read_page(html: str) -> FormsAndLinks:
    page = FormsAndLinks()
    page.feed(html)
    page.close()
    return page
