"""The evidence archive: ingest, queries, previews, file types, retention and legal holds,
fixity (verify), backups and key rotation.
"""
