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
    page.locator("#timeline").scroll_into_view_if_needed()
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
    # By id and by time, with the config fingerprint the ids belong to (a rescore may renumber),
    # and the settings it was made with (the weights as the run set them, the target).
    settings = sel.pop("config")
    assert sel == {"schema_version": doc["schema_version"], "input_fingerprint": doc["input"]["fingerprint"],
                   "config_fingerprint": doc["config_fingerprint"],
                   "segments": [{"id": keep["id"], "start": keep["start"], "end": keep["end"]}]}
    assert settings == {"weights": doc["config"]["weights"], "segments": {"target_duration_s": 10.0}}
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


# ---------------------------------------------------------------- the review loop in the page


def _set_slider(page, key: str, value: float) -> None:
    page.eval_on_selector(f'#weights input[data-key="{key}"]',
                          f'el => {{ el.value = "{value}"; el.dispatchEvent(new Event("input")); }}')


def _page_ranks(page) -> dict[str, tuple[int, float]]:
    return {r[0]: (int(r[1]), float(r[2])) for r in page.eval_on_selector_all(
        "#segments tbody tr", "rows => rows.map(r => [r.dataset.segment, r.dataset.rank, r.dataset.score])")}


def _python_ranks(out: Path, weights: dict, column_weights: dict | None = None) -> dict[str, tuple[int, float]]:
    """segments.candidate_scores on the timeline as the page holds it (4 decimals)."""
    import dataclasses
    import math

    from pipeline.config import load_config
    from pipeline.report.files import read_segments, segments_from_document
    from pipeline.run import column_weights as config_column_weights, load_state
    from pipeline.segments import candidate_scores, ranks_by, scored_columns

    cfg = load_config(out / "config.yaml")
    _, tl = load_state(out, cfg)
    names = [n for ns in scored_columns(tl).values() for n in ns]
    cols = dict(tl.columns)
    for n in names:
        cols[n] = np.array([round(float(v), 4) if math.isfinite(v) else np.nan for v in tl.columns[n]])
    tl = dataclasses.replace(tl, columns=cols)
    segs = segments_from_document(read_segments(out))
    cw = config_column_weights(cfg) | (column_weights or {})
    scores = candidate_scores(tl, segs, weights, cw, cfg.segments.smooth_s, cfg.segments.score_window_s)
    ranks = ranks_by(segs, scores)
    return {s.id: (ranks[s.id], scores[s.id]) for s in segs}


def test_weight_sliders_rerank_with_the_maths_of_segments_py_and_reset(page, hostile_out):
    out, _ = hostile_out
    before = _page_ranks(page)
    weights = {"motion": 0.8, "audio": 0.2, "shots": 0.5}
    for g, w in weights.items():
        _set_slider(page, g, w)
    _set_slider(page, "audio_roar", 0.5)
    got = _page_ranks(page)
    want = _python_ranks(out, weights, {"audio_roar": 0.5})
    assert {k: r for k, (r, _) in got.items()} == {k: r for k, (r, _) in want.items()}
    for k in want:
        assert got[k][1] == pytest.approx(want[k][1], abs=1e-9), k
    assert "Re-ranked in the page" in page.inner_text("#weights-state")
    assert page.inner_text('#weights .w[data-key="audio"] .v') == "0.20"  # as set, not normalised
    page.click("#reset-weights")
    assert {k: r for k, (r, _) in _page_ranks(page).items()} == {k: r for k, (r, _) in before.items()}
    assert page.problems == []


@pytest.fixture(scope="module")
def several_out(tmp_path_factory) -> Path:
    """A 60 s 320x180 match with several candidates: rank comparisons need more than one."""
    from pipeline import synth

    d = tmp_path_factory.mktemp("several")
    video = d / "match.mp4"
    synth.generate(video, duration_s=60.0, seed=6, size=(320, 180))
    out = d / "out"
    r = run_cli("run", video, "-o", out, "--detector", "classic", "--no-render", "--target-duration", "20")
    assert r.returncode == 0, r.stderr
    return out


def test_the_export_carries_the_weights_and_rescore_ranks_as_the_page_did(browser, several_out, tmp_path):
    out = several_out
    pg = browser.new_context(accept_downloads=True).new_page()
    pg.goto((out / "report.html").as_uri())
    weights = {"motion": 0.6, "audio": 0.3, "shots": 0.25}
    for g, w in weights.items():
        _set_slider(pg, g, w)
    in_page = _page_ranks(pg)
    with pg.expect_download() as dl:
        pg.click("#export")
    path = tmp_path / "selection.json"
    dl.value.save_as(path)
    assert json.loads(path.read_text())["config"]["weights"] == weights
    copy = tmp_path / "out"
    shutil.copytree(out, copy)  # the other tests keep the original folder
    r = run_cli("rescore", copy, "--config", path, "--no-render")
    assert r.returncode == 0, r.stderr
    again = json.loads((copy / "segments.json").read_text())
    assert again["config"]["weights"] == weights

    # New weights also re-cut the candidates (peaks and edges move: rescore's job, not the
    # page's). Each moment the page ranked is matched to rescore's candidate over most of it;
    # the page must order those moments as rescore does.
    def overlap(a, b):
        return max(0.0, min(a["end"], b["end"]) - max(a["start"], b["start"])) / (a["end"] - a["start"])
    page_segs = [s for s in json.loads((out / "segments.json").read_text())["segments"] if s["replay_of"] is None]
    pairs = []
    for s in page_segs:
        best = max(again["segments"], key=lambda t: overlap(s, t))
        if overlap(s, best) >= 0.5 and best["replay_of"] is None:
            pairs.append((in_page[s["id"]][0], best["rank"]))
    assert len(pairs) >= 2, pairs
    assert [r for _, r in sorted(pairs)] == sorted(r for _, r in pairs)
    pg.close()


def test_trim_add_and_export_render_frame_exact(page, hostile_out, tmp_path):
    from pipeline.export import frames_of
    from pipeline.types import Segment

    out, doc = hostile_out
    seg = doc["segments"][0]
    for s in doc["segments"]:  # keep exactly the first candidate
        box = page.locator(f'tr[data-segment="{s["id"]}"] td.keep input')
        if box.is_checked() != (s is seg):
            box.click()
    page.click(f'tr[data-segment="{seg["id"]}"] td.time')
    page.click('#nowbar button[data-edge="start"][data-step="1"]')  # trim a second off its start
    badge = page.inner_text(f'tr[data-segment="{seg["id"]}"] td.status .badge')
    assert badge.startswith("selected, ") and "(was" in badge
    page.locator("#timeline").scroll_into_view_if_needed()
    box = page.locator("#timeline").bounding_box()
    y = box["y"] + 60
    x0, x1 = box["x"] + box["width"] * 0.80, box["x"] + box["width"] * 0.92
    page.mouse.move(x0, y)
    page.mouse.down()
    page.mouse.move(x1, y, steps=5)
    page.mouse.up()
    assert page.locator("#added-list li").count() == 1
    with page.expect_download() as dl:
        page.click("#export")
    path = tmp_path / "selection.json"
    dl.value.save_as(path)
    items = json.loads(path.read_text())["segments"]
    trimmed = next(i for i in items if i.get("id") == seg["id"])
    assert trimmed["start"] == pytest.approx(seg["start"] + 1.0, abs=1e-3) and trimmed["end"] == seg["end"]
    mine = next(i for i in items if "id" not in i)
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    r = run_cli("render", copy, "--selection", path, "--render", "moviepy")
    assert r.returncode == 0, r.stderr
    import av

    with av.open(str(short := copy / "reel.mp4")) as c:
        n = sum(1 for _ in c.decode(video=0))
        fps = float(c.streams.video[0].average_rate)
    want = sum(b - a for a, b in (frames_of(Segment("x", i["start"], i["end"], 0, 0, {}), fps) for i in (trimmed, mine)))
    assert abs(n - want) <= 2, short


def test_play_selection_plays_each_kept_segment_in_turn(page, tmp_path):
    page.locator("#timeline").scroll_into_view_if_needed()
    box = page.locator("#timeline").bounding_box()
    y = box["y"] + 60
    for a, b in ((0.03, 0.12), (0.85, 0.95)):  # two moments of your own, besides what is ticked
        page.mouse.move(box["x"] + box["width"] * a, y)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * b, y, steps=5)
        page.mouse.up()
    with page.expect_download() as dl:
        page.click("#export")
    path = tmp_path / "selection.json"
    dl.value.save_as(path)
    queue = json.loads(path.read_text())["segments"]  # the reel's order
    assert len(queue) >= 2
    page.click("#play-selection")
    t = page.evaluate("document.getElementById('player').currentTime")
    assert queue[0]["start"] - 0.05 <= t <= queue[0]["start"] + 1.0
    page.evaluate(f"document.getElementById('player').currentTime = {queue[0]['end'] - 0.3}")
    page.wait_for_function("start => document.getElementById('player').currentTime >= start - 0.05 && "
                           "document.getElementById('player').currentTime < start + 1.5",
                           arg=queue[1]["start"], timeout=8_000)  # it went on to the next one
    assert page.problems == []


def test_a_page_whose_video_moved_says_so_and_how_to_point_it_at_the_footage(browser, hostile_out, tmp_path):
    out, _ = hostile_out
    moved = tmp_path / "elsewhere"
    shutil.copytree(out, moved)  # the page now points at a video that is not next to it
    pg = browser.new_page()
    pg.goto((moved / "report.html").as_uri())
    pg.wait_for_function("() => !document.getElementById('video-missing').hidden", timeout=10_000)
    text = pg.inner_text("#video-missing")
    assert "cannot be played" in text and "choose the footage" in text
    assert pg.locator("#video-file").is_visible()
    pg.close()
