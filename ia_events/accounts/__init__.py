"""Accounts and tenants: users, logins, sessions, agencies."""
