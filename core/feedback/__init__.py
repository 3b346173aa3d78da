"""Feedback to staff: near-miss cues guides and "what changed because you reported"."""
