"""The Streamlit workspace's pages, one module each; `ui/streamlit_app.py` signs in and routes.

Every page gets the signed-in `Session` (the only door to the archive), the `Texts`
of the chosen language and the `Screen` that keeps the classification banners true.
"""
