"""Helpers for driving the app with Streamlit's ``AppTest`` (tests and page benchmarks).

Nothing here runs in the served app.
"""

from __future__ import annotations

import json
from typing import Any


def navigation_only_pages_manager() -> type:
    """Return a PagesManager class that keeps Streamlit's ``pages/`` folder mode off.

    AppTest resets Streamlit's folder-mode flag before every run. The app then
    leaves that mode by rerunning (``explorer.ui.state.leave_pages_directory_mode``),
    which a server does once but AppTest would do on every run, dropping
    button clicks. This class clears the flag as soon as AppTest sets it.
    """
    from streamlit.runtime.pages_manager import PagesManager

    class NavigationOnlyPagesManager(PagesManager):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            PagesManager.uses_pages_directory = False

    return NavigationOnlyPagesManager


def keep_navigation_mode() -> None:
    """Make every later ``AppTest`` in this process use :func:`navigation_only_pages_manager`."""
    import streamlit.testing.v1.app_test as app_test_module

    app_test_module.PagesManager = navigation_only_pages_manager()


def send_chart_selection(at: Any, selection: dict, chart_index: int = 0) -> None:
    """Make the next run of ``at`` carry ``selection`` for one plotly chart, as a browser sends it.

    ``selection`` has the keys ``points``, ``point_indices``, ``box`` and ``lasso``
    of Streamlit's plotly selection state.
    """
    chart_id = at.get("plotly_chart")[chart_index].proto.id
    tree = at._tree
    collect = tree.get_widget_states

    def with_selection():
        states = collect()
        widget = states.widgets.add()
        widget.id = chart_id
        widget.string_value = json.dumps({"selection": selection})
        return states

    tree.get_widget_states = with_selection
