"""Streamlit entry of RDFace Explorer: page config, navigation, session defaults.

Run ``streamlit run app.py`` for the demo dataset, or
``streamlit run app.py -- --dataset DIR [--model NAME --checkpoint FILE]``.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from explorer.errors import ExplorerError
from explorer.ui.icon import app_icon
from explorer.ui.loaders import model_is_random
from explorer.ui.sidebar import dataset_sidebar
from explorer.ui.state import init_session_state
from explorer.ui.widgets import random_weights_banner, show_error, show_unexpected_error

APP_DIR = Path(__file__).parent

# Page file, title and icon, in menu order. Files that do not exist are left out.
PAGES = (
    ("overview.py", "Overview", ":material/dashboard:"),
    ("map.py", "Map", ":material/scatter_plot:"),
    ("galleries.py", "Galleries", ":material/photo_library:"),
    ("compare.py", "Compare", ":material/compare:"),
    ("benchmark.py", "Benchmark", ":material/leaderboard:"),
    ("saliency.py", "Saliency", ":material/visibility:"),
)

st.set_page_config(page_title="RDFace Explorer", page_icon=app_icon(), layout="wide")
try:
    init_session_state()
except ExplorerError as error:
    show_error(error)
    st.stop()

pages = [
    st.Page(f"pages/{file}", title=title, icon=icon)
    for file, title, icon in PAGES
    if (APP_DIR / "pages" / file).is_file()
]
page = st.navigation(pages)
dataset_sidebar()
if model_is_random():
    random_weights_banner()

try:
    page.run()
except ExplorerError as error:
    show_error(error)
except Exception as error:  # noqa: BLE001 - the browser gets a message, the log gets the traceback
    show_unexpected_error(error)
