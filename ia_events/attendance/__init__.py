"""Attendance: signed check-in tokens, the check-in rules, attendance records, personal
QR cards, printable lists and posters.
"""
