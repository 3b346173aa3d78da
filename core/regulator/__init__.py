"""Regulator clocks: reportable-event decisions and the deadlines a jurisdiction sets."""
