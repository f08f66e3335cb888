"""ia-events: the domain packages and entry points; see docs/architecture.md."""
