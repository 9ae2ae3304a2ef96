"""Validation rules, one module per subject: what a row of each ingestible table must satisfy.

`common` holds what every rule set shares; `bars`, `intraday`, `actions`, `instruments`,
`metrics` and `sentiment` hold the rule sets. `stocker.core.tables` says which set applies to
which table.
"""
