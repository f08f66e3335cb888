"""Volunteers: registry and qualifications, shifts, hours, certificates, import/export."""
