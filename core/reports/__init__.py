"""Near-miss reports: the table, the draft and its checks, the workflow (states and legal moves),
the helpers every use case that changes a report shares, and the reporter's own list."""
