"""The near-miss taxonomy: types with their fields, gates and validation items (configuration)."""
