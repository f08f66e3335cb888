"""Inspection (Prüfung): completeness findings and the signed BagIt bundle."""
