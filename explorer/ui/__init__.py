"""Streamlit helpers shared by the pages: session state, cached loaders, widgets.

Only the app and its pages import this package; the rest of the library never
touches Streamlit.
"""
