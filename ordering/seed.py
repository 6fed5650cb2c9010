"""Demo orders (filled in below)."""
