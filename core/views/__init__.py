"""What each page shows, read in one call.

One module per page family. Each view function opens the read session itself, composes the
existing queries (the choice of which to run, e.g. from a report's status, is made here, not in
the page) and returns a frozen dataclass holding everything the page draws. Pages and ui/
modules never open a session; they read `now` (core.clock.utcnow) and `rules`
(core.config.settings) and pass them in.
"""
