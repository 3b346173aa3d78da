"""Review and closure: the type's review form, "cannot proceed without" gates, auditable
validation with evidence, communication decisions, closure, and root cause analysis."""
