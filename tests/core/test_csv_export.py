from core.csv_export import csv_download


def test_downloads_neutralise_cells_a_spreadsheet_would_run_as_formulas(app):
    with app.test_request_context():
        response = csv_download(
            "x.csv", ["name", "amount"], [["=HYPERLINK(evil)", -5], ["Acme", 10]]
        )
    lines = response.get_data(as_text=True).splitlines()
    assert lines == ["name,amount", "'=HYPERLINK(evil),-5", "Acme,10"]
    assert response.headers["Content-Disposition"] == "attachment; filename=x.csv"
