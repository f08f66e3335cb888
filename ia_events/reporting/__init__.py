"""Reporting: sub-goal progress, controlling figures, the Sachbericht and its documents."""
