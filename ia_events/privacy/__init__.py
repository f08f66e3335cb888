"""Personal data: encryption at rest, blind indexes, Art. 18 restriction, data-subject
requests and anonymisation.
"""
