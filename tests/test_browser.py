"""Real-browser test: ``streamlit run`` on a loopback port, every page opened in headless Chromium."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
# Seconds allowed for the server to respond to its health check, and for a page to render.
SERVER_START_S = 90
PAGE_RENDER_S = 240
PAGES = ("overview", "map", "galleries", "compare", "benchmark", "saliency")
# Hosts the browser may contact: the app's own server. Anything else breaks the
# promise that the app makes no network request except an explicit weights download.
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
# Set by CI so that a missing Chromium fails the run instead of skipping the test.
ENV_REQUIRE_BROWSER = "RDFACE_EXPLORER_REQUIRE_BROWSER"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_health(url: str, process: subprocess.Popen, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {process.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise TimeoutError(f"streamlit did not answer {url} within {timeout_s} s")


@pytest.fixture
def streamlit_server(app_env, tmp_path):
    """Start ``streamlit run app.py`` on a free loopback port; yield its base URL."""
    if not CHROMIUM.is_file():
        if os.environ.get(ENV_REQUIRE_BROWSER):
            pytest.fail(f"Chromium not found at {CHROMIUM}, and {ENV_REQUIRE_BROWSER} is set; install the Debian package 'chromium'")
        pytest.skip(f"Chromium not found at {CHROMIUM}; install the Debian package 'chromium' to run this test")
    port = _free_port()
    environment = {**os.environ, **app_env, "HF_HUB_OFFLINE": "1"}
    log_path = tmp_path / "streamlit.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "streamlit", "run", "app.py",
                "--server.port", str(port),
                "--server.address", "127.0.0.1",
                "--server.headless", "true",
                "--server.fileWatcherType", "none",
                "--browser.gatherUsageStats", "false",
            ],
            cwd=REPO,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_health(f"{base_url}/_stcore/health", process, SERVER_START_S)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        print(log_path.read_text()[-4000:])


def _record_external(url: str, external: list[str]) -> None:
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme in {"http", "https", "ws", "wss"} and parsed.hostname not in LOCAL_HOSTS:
        external.append(url)


def _wait_until_idle(page) -> None:
    """Wait until Streamlit has finished running the page script."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=PAGE_RENDER_S * 1000)
    page.wait_for_function(
        """() => {
            const app = document.querySelector('[data-testid="stApp"]');
            return app && app.getAttribute('data-test-script-state') === 'notRunning';
        }""",
        timeout=PAGE_RENDER_S * 1000,
    )


def test_pages_render_in_chromium(streamlit_server):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1800})
            external_requests: list[str] = []
            page.on("request", lambda request: _record_external(request.url, external_requests))
            for name in PAGES:
                page.goto(f"{streamlit_server}/{name}", timeout=PAGE_RENDER_S * 1000)
                _wait_until_idle(page)
                if name == "map":
                    page.wait_for_selector(".js-plotly-plot .scatterlayer, .js-plotly-plot .gl-container",
                                           timeout=PAGE_RENDER_S * 1000)
                if name == "galleries":
                    page.wait_for_selector('[data-testid="stImage"] img', timeout=PAGE_RENDER_S * 1000)
                page.wait_for_timeout(1500)  # let plotly and images finish drawing
                page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

                assert page.locator('[data-testid="stException"]').count() == 0, f"exception box on {name}"
                banner = page.get_by_text("RANDOM weights", exact=False)
                assert banner.count() >= 1, f"no random-weight banner on {name}"
                if name == "map":
                    assert page.locator(".js-plotly-plot").count() >= 1
                    assert page.locator(".legendtext", has_text="Demo syndrome").count() >= 1
                if name == "galleries":
                    images = page.locator('[data-testid="stImage"] img')
                    assert images.count() >= 1
                    natural_width = images.first.evaluate("img => img.naturalWidth")
                    assert 0 < natural_width <= 256  # thumbnails only, never the full image

            # A box drawn over the whole map selects points through the real browser event.
            page.goto(f"{streamlit_server}/map", timeout=PAGE_RENDER_S * 1000)
            _wait_until_idle(page)
            page.wait_for_selector(".js-plotly-plot .nsewdrag", timeout=PAGE_RENDER_S * 1000)
            plot = page.locator(".js-plotly-plot").first
            plot.hover()
            page.locator('.modebar-btn[data-title="Box Select"]').first.click()
            area = page.locator(".js-plotly-plot .nsewdrag").first.bounding_box()
            page.mouse.move(area["x"] + 5, area["y"] + 5)
            page.mouse.down()
            page.mouse.move(area["x"] + area["width"] / 2, area["y"] + area["height"] / 2, steps=5)
            page.mouse.move(area["x"] + area["width"] - 5, area["y"] + area["height"] - 5, steps=5)
            page.mouse.up()
            page.wait_for_function(
                """() => [...document.querySelectorAll('h3')].some(
                    h => /^Selection: [1-9]/.test(h.textContent))""",
                timeout=PAGE_RENDER_S * 1000,
            )
            _wait_until_idle(page)
            page.wait_for_selector('[data-testid="stImage"] img', timeout=PAGE_RENDER_S * 1000)
            page.wait_for_timeout(1500)
            page.screenshot(path=str(ARTIFACTS / "map-selection.png"), full_page=True)
            assert page.locator('[data-testid="stException"]').count() == 0
            assert page.locator('[data-testid="stImage"] img').count() >= 1
            assert external_requests == []
        finally:
            browser.close()
