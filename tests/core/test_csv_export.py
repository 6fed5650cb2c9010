"""Every CSV export is formula-safe, and an import of an export reads back what was exported."""

from __future__ import annotations

import pytest

from core.csv_export import csv_download, csv_text, spreadsheet_safe, spreadsheet_text


def test_downloads_neutralise_cells_a_spreadsheet_would_run_as_formulas(app):
    with app.test_request_context():
        response = csv_download(
            "x.csv", ["name", "amount"], [["=HYPERLINK(evil)", -5], ["Acme", 10]]
        )
    lines = response.get_data(as_text=True).splitlines()
    assert lines == ["name,amount", "'=HYPERLINK(evil),-5", "Acme,10"]
    assert response.headers["Content-Disposition"] == "attachment; filename=x.csv"
    assert response.mimetype == "text/csv"


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"])
def test_csv_cells_a_spreadsheet_would_run_are_prefixed_and_read_back(cell):
    assert csv_text(["a"], [[cell]]).splitlines()[1].lstrip('"').startswith("'")
    assert spreadsheet_text(spreadsheet_safe(cell)) == cell


def test_other_cells_are_written_and_read_as_they_are():
    assert spreadsheet_text("'quoted") == "'quoted"
    assert spreadsheet_safe(-1) == -1
    assert csv_text(["a", "b"], [["x", 2]]) == "a,b\r\nx,2\r\n"
