"""What a servlet description may show: the formatting a vendor writes survives, links open
safely, and anything outside the allow-list (images, other attributes, other URL schemes)
is dropped."""

from __future__ import annotations

from catalog.markdown import render_markdown, sanitise

LINKS = (
    '[Docs](https://example.com/guide "The guide") [Team](mailto:team@example.com) '
    "[Old site](http://example.com) [Files](ftp://example.com/file) "
    "![pixel](https://tracker.example/p.gif)"
)
REL = 'rel="noopener noreferrer nofollow"'


def test_links_keep_their_address_and_title_and_open_with_no_opener_or_referrer():
    html = render_markdown(LINKS)
    assert f'<a href="https://example.com/guide" title="The guide" {REL}>Docs</a>' in html
    assert f'<a href="mailto:team@example.com" {REL}>Team</a>' in html
    assert f'<a href="http://example.com" {REL}>Old site</a>' in html


def test_other_url_schemes_and_images_are_dropped():
    html = render_markdown(LINKS)
    assert f"<a {REL}>Files</a>" in html
    assert "ftp:" not in html
    assert "<img" not in html
    assert "tracker.example" not in html


def test_tables_headings_lists_and_quotes_survive():
    html = render_markdown(
        "## Scope\n\n> In scope\n\n1. Kick-off\n\n| Step | Days |\n|---|---|\n| Setup | 2 |"
    )
    for tag in ("<h2>", "<blockquote>", "<ol>", "<table>", "<th>Step</th>", "<td>2</td>"):
        assert tag in html


def test_the_sanitiser_keeps_only_the_allowed_attributes():
    clean = sanitise(
        '<p id="x" class="c" style="color: red">Hi</p><ol start="3"><li>x</li></ol>'
        '<table><tr><td align="right" colspan="2">1</td></tr></table>'
    )
    assert "<p>Hi</p>" in clean
    assert "<ol><li>x</li></ol>" in clean
    assert '<td align="right">1</td>' in clean


def test_an_empty_description_shows_nothing():
    assert render_markdown(None) == ""
    assert render_markdown("") == ""
