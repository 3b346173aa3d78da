"""The operations package: what runs the portal from outside the domain.

The `nearmiss` command line (`ops.cli`), bringing a database to a usable state
(`ops.bootstrap`) and backup and restore (`ops.backup`). It uses `core/`; `core/` never
imports it.
"""
