"""report.html in a real browser: headless Chromium (Debian's /usr/bin/chromium) via Playwright.

One short generated match, named like an attack (`<img src=x onerror=alert(1)>.mp4`), is run
through the pipeline once per module; every test opens the page from a file:// URL.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from .conftest import run_cli

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--headless", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
HOSTILE = "<img src=x onerror=alert(1)>"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason=f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium)")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed (pip install -e '.[dev]')")


@pytest.fixture(scope="module")
def hostile_out(tmp_path_factory) -> tuple[Path, dict]:
    """A 15 s 320x180 match with one goal, renamed to a hostile name, run and reported."""
    from pipeline import synth

    d = tmp_path_factory.mktemp("hostile")
    made = d / "match.mp4"
    synth.generate(made, duration_s=15.0, seed=4, size=(320, 180))
    video = d / f"{HOSTILE}.mp4"
    shutil.move(made, video)
    out = d / "out"
    # Low thresholds: these tests are about the page, not about how selective the pipeline is.
    r = run_cli("run", video, "-o", out, "--detector", "classic", "--no-render", "--target-duration", "10",
                "--set", "segments.min_prominence=0.1", "--set", "segments.min_score=0")
    assert r.returncode == 0, r.stderr
    if not (out / "report.html").exists():  # until `run` writes the reports itself
        r = run_cli("report", out, "--truth", d / "match.truth.json")
        assert r.returncode == 0, r.stderr
    doc = json.loads((out / "segments.json").read_text())
    assert doc["segments"], "the generated match should give at least one candidate"
    return out, doc


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, hostile_out):
    out, _ = hostile_out
    ctx = browser.new_context(viewport={"width": 1280, "height": 720}, accept_downloads=True)
    pg = ctx.new_page()
    pg.problems = []
    pg.dialogs = []
    pg.on("console", lambda m: pg.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    pg.on("pageerror", lambda e: pg.problems.append(f"page error: {e}"))

    def on_dialog(dialog):
        pg.dialogs.append(dialog.message)
        dialog.dismiss()

    pg.on("dialog", on_dialog)
    pg.goto((out / "report.html").as_uri())
    pg.wait_for_function("() => document.getElementById('player').readyState >= 1", timeout=10_000)
    yield pg
    ctx.close()


def test_page_loads_cleanly_with_one_row_per_candidate(page, hostile_out):
    _, doc = hostile_out
    ids = page.eval_on_selector_all("#segments tbody tr", "rows => rows.map(r => r.dataset.segment)")
    assert sorted(ids) == sorted(s["id"] for s in doc["segments"])
    assert page.evaluate("document.getElementById('player').duration") == pytest.approx(doc["input"]["duration"], abs=0.5)
    assert page.problems == []


def test_clicking_a_row_plays_its_segment_and_stops_at_its_end(page, hostile_out):
    _, doc = hostile_out
    seg = doc["segments"][-1]
    page.click(f'tr[data-segment="{seg["id"]}"] td.time')
    t = page.evaluate("document.getElementById('player').currentTime")
    assert seg["start"] - 0.05 <= t <= seg["start"] + 1.0
    # Jump near the end: playback must stop there by itself.
    page.evaluate(f"document.getElementById('player').currentTime = {seg['end'] - 0.4}")
    page.wait_for_function("end => { const v = document.getElementById('player'); return v.paused && v.currentTime >= end; }",
                           arg=seg["end"] - 0.2, timeout=8_000)
    assert page.evaluate("document.getElementById('player').currentTime") <= seg["end"] + 0.4
    assert page.problems == []


def test_hovering_the_timeline_shows_signal_values(page):
    box = page.locator("#timeline").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + 60)
    tip = page.locator("#tip")
    assert tip.is_visible()
    text = tip.inner_text()
    assert "excitement" in text and "audio" in text and "roar" in text


def test_exported_selection_renders(page, hostile_out, tmp_path):
    from pipeline import media

    out, doc = hostile_out
    keep = doc["segments"][0]
    for s in doc["segments"]:  # tick exactly one segment, whatever the pipeline chose
        box = page.locator(f'tr[data-segment="{s["id"]}"] td.keep input')
        if box.is_checked() != (s is keep):
            box.click()
    with page.expect_download() as dl:
        page.click("#export")
    path = tmp_path / "selection.json"
    dl.value.save_as(path)
    sel = json.loads(path.read_text())
    # By id and by time, with the config fingerprint the ids belong to (a rescore may renumber).
    assert sel == {"schema_version": doc["schema_version"], "input_fingerprint": doc["input"]["fingerprint"],
                   "config_fingerprint": doc["config_fingerprint"],
                   "segments": [{"id": keep["id"], "start": keep["start"], "end": keep["end"]}]}
    r = run_cli("render", out, "--selection", path)  # moviepy: frame-exact
    assert r.returncode == 0, r.stderr
    reel = media.probe(out / "reel.mp4")
    assert reel.duration_s == pytest.approx(keep["end"] - keep["start"], abs=0.3)


def test_screenshot_is_not_blank(page, tmp_path):
    import cv2

    shot = cv2.imdecode(np.frombuffer(page.screenshot(full_page=True), np.uint8), cv2.IMREAD_GRAYSCALE)
    assert shot.std() > 20
    canvas = cv2.imdecode(np.frombuffer(page.locator("#timeline").screenshot(), np.uint8), cv2.IMREAD_GRAYSCALE)
    assert canvas.std() > 10  # the timeline drew its curve, lanes and axis


def test_hostile_file_name_is_shown_as_text(page):
    page.wait_for_timeout(300)
    assert page.dialogs == []
    assert page.inner_text("header h1") == f"{HOSTILE}.mp4"
    assert HOSTILE in page.inner_text("footer")
    assert page.evaluate("document.querySelectorAll('img[onerror], [onerror]').length") == 0
    assert page.problems == []
