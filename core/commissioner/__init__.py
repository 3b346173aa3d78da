"""Commissioner and funder views: read-only, de-identified evidence, the governance pack."""
