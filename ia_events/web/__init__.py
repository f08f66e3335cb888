"""Entry point: plain HTTP routes beside Streamlit (participant check-in page, feeds,
login hand-off). Parses requests, calls domain services, renders HTML.
"""
