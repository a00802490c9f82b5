"""Outputs that keep their history: a reviewed selection becomes OUT's choice everywhere
(segments.json, the editor files, the page, run.json), named reels stand side by side,
and run.json says which command chose what, and when."""

from __future__ import annotations

import json

import av
import pytest

from pipeline.export import frames_of

from .conftest import run_cli


def _doc(out):
    return json.loads((out / "segments.json").read_text())


def _frames(path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


@pytest.fixture(scope="module")
def analysed(short_match, tmp_path_factory):
    out = tmp_path_factory.mktemp("history") / "out"
    r = run_cli("run", short_match, "-o", out, "--target-duration", "12", "--name", "first")
    assert r.returncode == 0, r.stderr
    return out


def test_a_named_reel_keeps_its_editor_files_and_a_selection_that_renders_it_again(analysed):
    out = analysed
    reels = out / "reels"
    assert not (out / "reel.mp4").exists(), "a named reel is not also reel.mp4"
    for suffix in (".mp4", ".otio", ".edl", ".fcpxml", ".xml", ".srt", ".selection.json"):
        assert (reels / f"first{suffix}").exists(), suffix
    chosen = [s for s in _doc(out)["segments"] if s["selected"]]
    again = json.loads((reels / "first.selection.json").read_text())
    assert [s["id"] for s in again["segments"]] == [s["id"] for s in chosen]
    history = json.loads((out / "run.json").read_text())["history"]
    assert history[-1]["command"] == "run" and history[-1]["reel"] == str(reels / "first.mp4")
    assert history[-1]["selected"] == [s["id"] for s in chosen] and history[-1]["target_s"] == 12


def test_a_reviewed_selection_becomes_outs_choice_everywhere(analysed, tmp_path, short_match):
    out = analysed
    doc = _doc(out)
    first = next(s for s in doc["segments"] if s["selected"])
    trimmed = {"id": first["id"], "start": first["start"] + 1.0, "end": first["end"] - 1.0}
    added = {"start": 0.2, "end": 1.4}  # a moment the reviewer marked on the timeline
    sel = tmp_path / "review.json"
    sel.write_text(json.dumps({"input_fingerprint": doc["input"]["fingerprint"],
                               "config_fingerprint": doc["config_fingerprint"], "segments": [added, trimmed]}))
    r = run_cli("render", out, "--selection", sel, "--name", "review", "--json")
    assert r.returncode == 0, r.stderr
    after = _doc(out)
    picked = [s for s in after["segments"] if s["selected"]]
    assert len(picked) == 2
    new, cut = picked
    assert new["reason"] == "added in review" and new["id"] not in {s["id"] for s in doc["segments"]}
    assert (new["start"], new["end"]) == (0.2, 1.4)
    assert cut["id"] == first["id"] and (cut["start"], cut["end"]) == (trimmed["start"], trimmed["end"])
    assert "in review (candidate" in cut["reason"]
    assert not [s for s in after["segments"] if s["selected"] and s["id"] not in {new["id"], cut["id"]}]
    # the page shows the reviewed choice, and the reel holds exactly those frames
    page = (out / "report.html").read_text()
    assert "added in review" in page
    with av.open(str(short_match)) as c:
        fps = float(c.streams.video[0].average_rate)
    from pipeline.types import Segment

    want = sum(b - a for a, b in (frames_of(Segment(s["id"], s["start"], s["end"], 0, 0, {}), fps) for s in picked))
    assert abs(_frames(out / "reels" / "review.mp4") - want) <= 2
    last = json.loads((out / "run.json").read_text())["history"][-1]
    assert last["command"] == "render" and last["selection"]["file"] == str(sel.resolve())
    assert len(last["selection"]["sha256"]) == 64 and last["selected"] == [new["id"], cut["id"]]
    # both named reels stand side by side
    assert (out / "reels" / "first.mp4").exists() and (out / "reels" / "review.mp4").exists()


@pytest.mark.parametrize("name", ["../x", ".hidden", "a/b", "x.mp4", "é" * 3, "a" * 65])
def test_a_reel_name_that_is_not_a_plain_file_name_is_refused_before_any_work(analysed, name):
    r = run_cli("rescore", analysed, "--name", name)
    assert r.returncode == 2, r.stderr
    assert "--name" in r.stderr and "Traceback" not in r.stderr
