"""Entry point: the ``ia-events`` command (docs/design.md section 5, a contract)."""
