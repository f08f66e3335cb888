"""Fictional demo data, loaded through the domain services. Nothing in a domain package
imports it.
"""
