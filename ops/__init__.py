"""The operations package: what runs the portal from outside the domain.

The `nearmiss` command line (`ops.cli`), the demo data (`ops.demo`, drawn from data/demo/),
bringing a database to a usable state (`ops.bootstrap`) and backup and restore (`ops.backup`).
It uses `core/`; `core/` never imports it.
"""
