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


def test_every_kind_of_formatting_a_vendor_writes_comes_out_as_written():
    html = render_markdown(
        "# One\n\n## Two\n\n### Three\n\n#### Four\n\n##### Five\n\n###### Six\n\n"
        "First line  \nsecond line with **bold**, *stress* and `code`\n\n---\n\n"
        "```\nrun()\n```\n\n- a\n- b\n\n| Step | Days |\n|---|---|\n| Setup | 2 |"
    )
    assert html == (
        "<h1>One</h1>\n<h2>Two</h2>\n<h3>Three</h3>\n<h4>Four</h4>\n<h5>Five</h5>\n"
        "<h6>Six</h6>\n<p>First line<br>\nsecond line with <strong>bold</strong>, "
        "<em>stress</em> and <code>code</code></p>\n<hr>\n<pre><code>run()\n</code></pre>\n"
        "<ul>\n<li>a</li>\n<li>b</li>\n</ul>\n<table>\n<thead>\n<tr>\n<th>Step</th>\n"
        "<th>Days</th>\n</tr>\n</thead>\n<tbody>\n<tr>\n<td>Setup</td>\n<td>2</td>\n</tr>\n"
        "</tbody>\n</table>\n"
    )


def test_a_header_cell_keeps_its_alignment():
    assert sanitise('<table><tr><th align="center" width="3">Days</th></tr></table>') == (
        '<table><tbody><tr><th align="center">Days</th></tr></tbody></table>'
    )
