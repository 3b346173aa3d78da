"""Streamlit helpers shared by app.py and the pages (presentation only; rules live in core/)."""
