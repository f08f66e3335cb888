"""Notifications: e-mail that reaches people (reminders, approvals, deadlines).

``kinds`` names what can be sent and to whom; ``prefs`` holds each person's
address (given for this purpose only) and choices; ``outbox`` writes messages
in the same transaction as the change that causes them; ``rules`` computes the
scheduled ones for a given ``now``; ``texts`` renders German text, HTML and the
iCal attachment; ``mail`` speaks SMTP; ``delivery`` claims, sends and records.
"""
