"""Escalation and routing: safeguarding signals, stop-the-line alerts, clinical reviews,
operations queues, and the notifications (in-app and email) that carry them."""
