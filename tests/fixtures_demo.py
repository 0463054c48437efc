"""Demo dataset fixtures (owned by the demo module)."""
