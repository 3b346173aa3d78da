"""Sign-in and user administration: the use cases over the accounts `core/auth/` defines (they
notify through escalation and name services, so they sit above both)."""
