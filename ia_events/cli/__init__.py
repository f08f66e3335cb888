"""Entry point: the ``ia-events`` command (DESIGN.md section 5, a contract)."""
