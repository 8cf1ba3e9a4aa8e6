"""Helpers behind the Streamlit app: session keys, tables and exports, verdicts, the model cache.

Everything here except :mod:`amplify.ui.pages` (the page scripts) and :mod:`amplify.ui.guard` is
free of Streamlit and tested as plain functions; ``app.py`` and the page scripts only lay out
widgets and call these.
"""
