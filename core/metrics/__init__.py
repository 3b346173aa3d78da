"""Measures computed by SQL aggregation: weekly counts, rates, and the figures built on them."""
