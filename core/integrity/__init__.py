"""Checks and repairs of the audit trail against the data it describes: does every row still hold
what its events last recorded (state.py), and sealing a trail whose end is not signed yet
(seal.py). They read the audited tables and write through the unit of work, so they sit above
both; core/audit/ (the signed chain itself) sits below the unit of work."""
