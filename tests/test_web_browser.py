"""End-to-end test in a real headless Chromium (Debian's /usr/bin/chromium driven by Playwright).

Starts the app with uvicorn in a thread on a free loopback port, fills the simulate form, runs a simulation,
checks the verdict text, the hover tooltip of the pressure map and the per-peak bars, and takes a screenshot.
Skips with a clear message when Playwright or the browser is missing (``playwright install`` is never run).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("SPINERELEASE_CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.browser

playwright_sync = pytest.importorskip(
    "playwright.sync_api",
    reason="playwright is not installed (pip install playwright); skipping the browser end-to-end test",
)
uvicorn = pytest.importorskip("uvicorn", reason="uvicorn is not installed; skipping the browser test")
if not CHROMIUM.exists():
    pytest.skip(
        f"{CHROMIUM} not found (apt-get install chromium); skipping the browser end-to-end test",
        allow_module_level=True,
    )

from spinerelease.web import create_app  # noqa: E402

TOOL_JSON = {
    "name": "browser-bumps",
    "base": {"width_mm": 120, "length_mm": 60, "height_mm": 20},
    "peaks": [
        {"name": "left", "x_mm": -30, "y_mm": 0, "height_mm": 60, "tip_radius_mm": 10},
        {"name": "right", "x_mm": 30, "y_mm": 0, "height_mm": 60, "tip_radius_mm": 10},
    ],
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = _free_port()
    app = create_app(history_db=tmp_path_factory.mktemp("hist") / "h.sqlite")
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    srv = uvicorn.Server(config)
    th = threading.Thread(target=srv.run, daemon=True)
    th.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        if not th.is_alive() or time.monotonic() > deadline:
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    th.join(30)


@pytest.fixture(scope="module")
def browser():
    with playwright_sync.sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        except Exception as exc:  # noqa: BLE001 - a browser that cannot start is an environment problem
            pytest.skip(f"headless Chromium could not start ({type(exc).__name__}: {str(exc).splitlines()[0]})")
        yield b
        b.close()


@pytest.fixture
def page(browser):
    pg = browser.new_page(viewport={"width": 1400, "height": 1200})
    pg.errors = []
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.on("console", lambda m: pg.errors.append(m.text) if m.type == "error" else None)
    yield pg
    pg.close()


def test_simulate_in_browser(server, page, tmp_path):
    page.goto(server + "/")
    assert "not a medical device" in page.locator("#disclaimer").inner_text()
    page.wait_for_function("() => document.querySelectorAll('#tool option').length >= 5")
    page.fill("#stature", "172")
    page.fill("#mass", "70")
    page.select_option("#sex", "female")
    page.select_option("#tool", "pso-spine")
    page.select_option("#level", "T8")
    page.fill("#offset_x", "0")
    page.select_option("#step", "lie_back")
    page.select_option("#spacing", "2")
    page.click("#run")
    page.wait_for_selector("#verdict:not(:empty)", timeout=120_000)
    verdict = page.locator("#verdict").inner_text()
    assert verdict.startswith("Verdict: ")
    assert verdict.removeprefix("Verdict: ") in ("on muscle, within tolerance", "too much pressure", "peak on bone")
    assert "pso-spine at T8" in page.locator("#result-title").inner_text()
    assert page.locator("#advice li").count() >= 1
    assert page.locator("#peaks .peak").count() == 5
    assert "kPa" in page.locator("#numbers").inner_text()
    # the map was drawn: sample the canvas pixels
    painted = page.evaluate("""() => { const c = document.getElementById('map');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; }""")
    assert painted > 10_000
    # hover over the first peak: the tooltip shows a pressure in kPa and a region name
    pos = page.evaluate("""() => { const c = document.getElementById('map'); const r = c.getBoundingClientRect();
        return [r.left + r.width / 2, r.top + r.height / 2]; }""")
    page.mouse.move(pos[0], pos[1])
    tip = page.locator("#tooltip")
    tip.wait_for(state="visible")
    text = tip.inner_text()
    assert " - " in text and ("kPa" in text or "outside" in text)
    assert page.locator("#error").is_hidden()
    shot = tmp_path / "simulate.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000
    assert not page.errors, page.errors  # no JavaScript errors, no CSP violations


def test_protocol_breathing_animation(server, page, tmp_path):
    page.goto(server + "/")
    page.wait_for_function("() => document.querySelectorAll('#tool option').length >= 5")
    page.select_option("#spacing", "4")
    page.click("#breathe")
    page.wait_for_selector("#protocol-table tr:nth-child(7)", timeout=180_000)
    assert page.locator("#protocol-table tr").count() == 7  # header + 6 loaded steps
    page.wait_for_function("() => document.getElementById('breath-cue').textContent.toLowerCase().includes('breathe')")
    first = page.locator("#breath-now").inner_text()
    assert first.startswith("t = ") and "kPa" in first
    # the animation moves on
    page.wait_for_function(f"() => document.getElementById('breath-now').textContent !== {json.dumps(first)}")
    page.click("#breath-toggle")
    assert page.locator("#breath-toggle").inner_text() == "Play"
    page.screenshot(path=str(tmp_path / "protocol.png"), full_page=True)
    assert not page.errors, page.errors


def test_cancel_from_page(server, page):
    page.goto(server + "/")
    page.wait_for_function("() => document.querySelectorAll('#tool option').length >= 5")
    page.select_option("#spacing", "1")
    page.click("#breathe")  # a long protocol solve at 1 mm
    page.wait_for_selector("#cancel:not([disabled])")
    page.click("#cancel")
    page.wait_for_function(
        "() => document.getElementById('progress-text').textContent === 'cancelled'", timeout=120_000
    )
    assert page.locator("#protocol").is_hidden()
    assert not page.errors, page.errors


def test_bad_input_shows_error_in_page(server, page):
    page.goto(server + "/")
    page.wait_for_function("() => document.querySelectorAll('#tool option').length >= 5")
    page.fill("#stature", "400")
    page.click("#run")
    err = page.locator("#error")
    err.wait_for(state="visible")
    assert "Stature" in err.inner_text() and "between 120 and 220" in err.inner_text()
    # a value the form accepts but the library refuses: the server's message is shown
    page.fill("#stature", "220")
    page.fill("#mass", "30")
    page.click("#run")
    page.wait_for_function("() => document.getElementById('error').textContent.includes('body-mass index')")


def test_upload_and_compare_pages(server, page, tmp_path):
    page.goto(server + "/")
    page.wait_for_function("() => document.querySelectorAll('#tool option').length >= 5")
    f = tmp_path / "bumps.json"
    f.write_text(json.dumps(TOOL_JSON))
    page.set_input_files("#upload", str(f))
    page.wait_for_function("() => document.getElementById('upload-status').textContent.includes('uploaded')")
    assert "browser-bumps" in page.locator("#tool option:checked").inner_text()
    page.goto(server + "/compare")
    page.wait_for_function("() => document.querySelectorAll('#tool_b option').length >= 5")
    page.select_option("#spacing", "4")
    page.click("#run")
    page.wait_for_selector("#claims li", timeout=120_000)
    assert page.locator("#claims li").count() == 4
    assert page.locator("#verdict-a").inner_text().startswith("Verdict: ")
    assert page.locator("#verdict-b").inner_text().startswith("Verdict: ")
    page.screenshot(path=str(tmp_path / "compare.png"), full_page=True)
    page.goto(server + "/history")
    page.wait_for_function("() => document.getElementById('history-summary').textContent.length > 0")
    assert "No history yet" in page.locator("#history-summary").inner_text()
    page.goto(server + "/api")
    page.wait_for_selector(".endpoint")
    assert "/api/simulate" in page.locator("#endpoints").inner_text()
    assert not page.errors, page.errors
