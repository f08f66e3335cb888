"""Network: the agency's cooperation partners (organisations) and their links to
activities. Meetings, processes and funding sources follow (issue 19).
"""
