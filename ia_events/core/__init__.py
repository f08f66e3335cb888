"""Shared kernel: errors, German messages, roles and permissions, the audit chain,
the installation (settings, database, keys, archive), the table models and the PDF base.

Imports only ``storage``; every domain package may import it.
"""
