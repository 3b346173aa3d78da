"""Near-miss reports: capture, validation, filing, import and the reporter's own list."""
