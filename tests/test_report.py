"""Reviewer outputs without a browser: the segments.json contract, timeline.png, report.html text."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np
import pytest

from pipeline.report.files import segments_document, segments_problems, segments_schema
from pipeline.types import Segment, Timeline

from .conftest import run_cli

HOSTILE = "<img src=x onerror=alert(1)>"


def _timeline(duration_s: float, bin_s: float = 0.5, spike_at_s: float | None = None) -> Timeline:
    n = int(duration_s / bin_s)
    rng = np.random.default_rng(0)
    cols = {name: rng.normal(0, 0.5, n) for name in ("audio_roar", "audio_loudness", "motion_speed", "motion_pan")}
    cols["shots_cut"] = (rng.random(n) > 0.98).astype(float)
    cols["shots_replay"] = np.zeros(n)
    if spike_at_s is not None:
        cols["audio_roar"][int(spike_at_s / bin_s)] = 6.0
    raw = {k: v * 3 + 10 for k, v in cols.items() if k.startswith(("audio", "motion"))}
    return Timeline(bin_s, np.arange(n) * bin_s, cols, {}, length_s=duration_s, raw=raw)


def _doc(segments: list[Segment], path: str = "/videos/match.mp4") -> dict:
    return segments_document(segments, input_path=path, fingerprint="ab" * 32, duration_s=60.0, config={},
                             detector={"backend": "classic"}, weights_used={"motion": 0.35, "audio": 0.45, "shots": 0.2},
                             notes=[], target_s=20.0)


def _segments() -> list[Segment]:
    return [
        Segment("s001", 2.0, 12.0, 6.0, 1.5, {"motion": 0.4, "audio": 0.9, "shots": 0.1}, rank=2, selected=True,
                reason="crowd roar +9 dB"),
        Segment("s002", 20.0, 31.0, 25.0, 2.1, {"motion": 0.8, "audio": 1.2, "shots": 0.2}, rank=1, selected=True,
                reason="5 players sprinting"),
        Segment("s003", 40.0, 48.0, 44.0, 0.4, {"motion": 0.1, "audio": 0.2, "shots": 0.0}, rank=3, selected=False,
                reason="left out: reel full", replay_of="s002"),
    ]


def test_schema_accepts_a_written_document_and_rejects_broken_ones():
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(segments_schema())
    doc = _doc(_segments())
    assert segments_problems(doc) == []

    broken = json.loads(json.dumps(doc))
    del broken["schema_version"]
    assert any("schema_version" in p for p in segments_problems(broken))
    broken = json.loads(json.dumps(doc))
    broken["segments"][0]["selected"] = "yes"
    assert any("segments/0/selected" in p for p in segments_problems(broken))
    broken = json.loads(json.dumps(doc))
    broken["segments"][1]["end"] = broken["segments"][1]["start"] - 1
    assert any("not after start" in p for p in segments_problems(broken))
    broken = json.loads(json.dumps(doc))
    broken["segments"][2]["replay_of"] = "s999"
    assert any("names no segment" in p for p in segments_problems(broken))
    broken = json.loads(json.dumps(doc))
    broken["segments"][0]["surprise"] = 1  # a new field must be documented in the schema first
    assert segments_problems(broken)


@pytest.fixture(scope="module")
def real_out(small_match, tmp_path_factory) -> Path:
    """An output dir of the real pipeline on the 8 s generated clip, reports included."""
    from pipeline import run as R
    from pipeline.config import load_config

    cfg = load_config(None, ["detect.backend=classic"])
    from pipeline.outputs import prepare_output_dir, release_output_dir

    out = prepare_output_dir(tmp_path_factory.mktemp("report") / "out")
    release_output_dir(out)  # the CLI runs below take the folder's lock themselves
    a = R.analyze(small_match, cfg, out / "cache")
    R.save_state(out, a, cfg)
    sel = R.select_segments(a.timeline, cfg, 4.0)
    R.write_outputs(out, R.analysis_doc(a), a.timeline, sel, cfg)
    R.write_reports(out, a.timeline, sel.score, cfg)
    return out


def test_a_real_run_writes_valid_segments_plot_and_page(real_out):
    """The pipeline's own output: segments.json matches the schema, the plot and page exist,
    the page lists every candidate once and points the player at the input."""
    doc = json.loads((real_out / "segments.json").read_text())
    assert segments_problems(doc) == []
    assert doc["schema_version"] == "1.4"
    assert all("moment" in s and "minute" in s for s in doc["segments"])
    assert (real_out / "timeline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = (real_out / "report.html").read_text()
    assert sorted(re.findall(r'data-segment="([^"]+)"', html)) == sorted(s["id"] for s in doc["segments"])
    assert re.search(r'<video[^>]+src="[^"]*small\.mp4"', html)
    assert "cdn" not in html.lower() and "http://" not in html and "https://" not in html


def test_ninety_minute_timeline_is_aggregated_but_keeps_a_one_bin_peak(tmp_path):
    import cv2

    from pipeline.report.html import PAGE_POINTS, timeline_data
    from pipeline.report.plot import plot_timeline

    tl = _timeline(90 * 60.0, spike_at_s=3000.0)
    score = np.nanmean(np.stack([tl.columns["audio_roar"], tl.columns["motion_speed"]]), axis=0)
    data = timeline_data(tl, score)
    assert len(data["score"]) <= PAGE_POINTS and data["aggregated"]
    assert max(v for v in data["signals"]["audio_roar"] if v is not None) == pytest.approx(6.0)
    t0 = time.perf_counter()
    png = plot_timeline(tl, score, _segments(), tmp_path / "timeline.png",
                        truth=[{"type": "goal", "time": 25.0, "start": 20.0, "end": 30.0}])
    assert time.perf_counter() - t0 < 15
    img = cv2.imread(str(png))
    assert img.shape[1] == 1600 and img.std() > 10


def test_input_strings_reach_the_page_as_text_only(tmp_path):
    from pipeline.report.html import render_report

    segs = _segments()
    segs[0].reason = f"crowd {HOSTILE} roar</script><script>alert(2)</script>"
    truth = [{"type": "</script><script>alert(3)</script>", "time": 5.0, "start": 1.0, "end": 8.0}]
    doc = _doc(segs, path=f"/videos/{HOSTILE}.mp4")
    html = render_report(doc, _timeline(60.0), np.zeros(120), out=tmp_path / "out", video=None, truth=truth)
    assert HOSTILE not in html
    assert "<script>alert" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;.mp4" in html  # shown, as text, in the title
    # The data block parses back to what went in, and nothing in it could close the script.
    block = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S).group(1)
    assert json.loads(block)["truth"][0]["type"] == truth[0]["type"]
    assert re.search(r'<video[^>]+src="[^"]*/videos/%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E\.mp4"', html)


def test_report_command_regenerates_from_an_output_dir(real_out, tmp_path):
    (real_out / "report.html").unlink()
    (real_out / "timeline.png").unlink()
    truth = tmp_path / "truth.json"
    truth.write_text(json.dumps({"events": [{"type": "goal", "time": 3.0, "start": 1.0, "end": 6.0}]}))
    r = run_cli("report", real_out, "--truth", truth)
    assert r.returncode == 0, r.stderr
    html = (real_out / "report.html").read_text()
    data = json.loads(re.search(r'id="report-data">(.*?)</script>', html, re.S).group(1))
    assert data["truth"] == [{"type": "goal", "time": 3.0, "start": 1.0, "end": 6.0}]
    assert (real_out / "timeline.png").stat().st_size > 10_000

    empty = tmp_path / "empty"
    empty.mkdir()
    r = run_cli("report", empty)
    assert r.returncode == 5 and "holds no analysis" in r.stderr


def test_thumbnails_of_an_earlier_input_never_show_for_a_new_one(tmp_path):
    """OUT reused for another video (`highlights run other.mp4 -o OUT`): segments at the same
    times must show the new video's frames, and the old input's thumbnails are dropped."""
    import base64

    import cv2

    from pipeline.report.files import segments_document
    from pipeline.report.html import write_report

    from .conftest import ffmpeg

    out = tmp_path / "out"
    out.mkdir()
    means = []
    for name, colour, fp in (("red", "red", "aa"), ("blue", "blue", "bb")):
        video = tmp_path / f"{name}.mp4"
        ffmpeg("-f", "lavfi", "-i", f"color=c={colour}:s=160x90:r=25:d=60", "-c:v", "libx264", "-pix_fmt", "yuv420p",
               str(video))
        doc = segments_document(_segments(), input_path=str(video), fingerprint=fp * 32, duration_s=60.0, config={},
                                detector={"backend": "classic"}, weights_used={"motion": 0.35, "audio": 0.45, "shots": 0.2})
        html = write_report(out, doc, _timeline(60.0), np.zeros(120), thumbnails=1)
        src = re.search(r"data:image/jpeg;base64,([A-Za-z0-9+/=]+)", html.read_text()).group(1)
        img = cv2.imdecode(np.frombuffer(base64.b64decode(src), np.uint8), cv2.IMREAD_COLOR)
        means.append(img.reshape(-1, 3).mean(axis=0))  # BGR
        assert [p.name for p in (out / "thumbs").iterdir()] == [fp * 8]
    (r_b, r_g, r_r), (b_b, b_g, b_r) = means
    assert r_r > 200 and r_b < 60, "the first report shows the red video"
    assert b_b > 200 and b_r < 60, "the second report shows the blue video, not the cached red frames"


def test_the_pages_group_lanes_are_the_ones_the_score_summed():
    """With column weights that are not all 1 (and a group turned off), the page's lanes are
    what the excitement curve used: weighted back together they give the score itself."""
    from pipeline.report.html import timeline_data
    from pipeline.segments import excitement_curve

    n = 200
    rng = np.random.default_rng(3)
    cols = {"audio_loudness": rng.normal(0, 1, n), "audio_roar": rng.normal(2, 1, n),
            "motion_speed": rng.normal(0, 1, n), "shots_closeup": rng.normal(0, 1, n)}
    cols["motion_speed"][50:60] = np.nan  # a gap: its weight goes to the groups present
    tl = Timeline(t_s=np.arange(n) * 0.5, bin_s=0.5, columns=cols, meta={})
    weights = {"audio": 0.5, "motion": 0.3, "shots": 0.0}
    curve = excitement_curve(tl, weights, {"audio_loudness": 3.0, "audio_roar": 1.0})
    data = timeline_data(tl, curve.score, group_levels=curve.groups)
    assert set(data["groups"]) == {"audio", "motion"}  # shots has weight 0: not in the score
    audio = np.array(data["groups"]["audio"], dtype=float)
    assert np.allclose(audio, (3 * cols["audio_loudness"] + cols["audio_roar"]) / 4, atol=2e-3)  # 3 decimals
    motion = np.array([np.nan if v is None else v for v in data["groups"]["motion"]], dtype=float)
    w = np.where(np.isnan(motion), 0.0, 0.3)
    summed = (0.5 * audio + np.nan_to_num(motion) * w) / (0.5 + w)
    assert np.allclose(summed, np.array(data["score"], dtype=float), atol=3e-3)
    # Plain means would have drawn another audio lane, off by a whole z in places.
    plain = np.array(timeline_data(tl, curve.score)["groups"]["audio"], dtype=float)
    assert np.max(np.abs(plain - audio)) > 0.5
