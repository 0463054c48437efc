"""Streamlit app fixtures (owned by the app pages)."""
