"""Planning: task plans and sub-goals, activities and their dates (series, closures),
deadlines and calendar feeds.
"""
