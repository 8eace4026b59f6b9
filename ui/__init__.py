"""Vigie's two faces: the `vigie` command line and the Streamlit app."""
