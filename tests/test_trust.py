"""Trust: the tool never loses a user's file and never gives a wrong result silently.

Each test is one case an adversarial user tried (docs/reliability.md, "Trust"): files named
like temp files, a user's own files in a --force folder, edited or swapped evidence files,
an input overwritten after its analysis, damaged caches, selections that repeat or no
longer match, concurrent commands in one folder, values no JSON can hold.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline import media
from pipeline.errors import ConfigError
from pipeline.outputs import MARKER, clean_stale_temps, temp_path
from pipeline.report.files import read_selection, selection_document
from pipeline.types import Segment

from .conftest import REPO


def highlights(capsys, *args) -> tuple[int, str, str]:
    from pipeline.cli import main

    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def one_error(err: str) -> str:
    assert "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.startswith("error: ")]
    assert len(lines) == 1, err
    return lines[0]


@pytest.fixture()
def clip(tmp_path, short_match) -> Path:
    """A private copy of the 20 s generated match with one goal (tests overwrite or rename it)."""
    p = tmp_path / "match.mp4"
    shutil.copy(short_match, p)
    return p


def analysed(capsys, clip: Path, out: Path, *extra) -> Path:
    code, _, err = highlights(capsys, "run", clip, "-o", out, "--detector", "classic", "--no-render", *extra)
    assert code == 0, err
    return out


# ---------------------------------------------------------------- 1. temp-like names are not ours


def test_clean_up_removes_only_temp_files_this_package_named(tmp_path):
    out = tmp_path / "out"
    (out / "cache" / "abc").mkdir(parents=True)
    (out / "mine").mkdir()
    (out / MARKER).touch()
    ours = [temp_path(out / "segments.json"), temp_path(out / "reel.mp4", ".mp4"),
            temp_path(out / "reel.mp4", ".part0.mp4"), temp_path(out / "cache" / "abc" / "tracks.parquet")]
    users = [out / "x.tmp.mp4", out / ".x.part1.mp4", out / "notes.tmp", out / ".segments.json.k2j4h5g6.tmp",
             out / "mine" / ours[0].name, out / "segments.json", out / MARKER]
    for p in users:
        p.write_bytes(b"user data")
    assert sorted(clean_stale_temps(out)) == sorted(ours)
    assert all(p.read_bytes() == b"user data" for p in users)


@pytest.mark.parametrize("name", ["x.tmp.mp4", ".x.part1.mp4"])
def test_an_input_named_like_a_temp_file_inside_the_output_folder_is_read_not_deleted(capsys, tmp_path, small_match, name):
    out = tmp_path / "out"
    out.mkdir()
    (out / MARKER).touch()
    video = out / name
    shutil.copy(small_match, video)
    analysed(capsys, video, out)
    assert video.read_bytes() == small_match.read_bytes()
    assert json.loads((out / "analysis.json").read_text())["duration"] > 7


# ---------------------------------------------------------------- 2, 3. a user's files in a --force folder


def test_force_leaves_a_users_thumbs_folder_and_a_thumbs_link_target_alone(capsys, tmp_path, clip):
    out = tmp_path / "foreign"
    (out / "thumbs" / "0123456789abcdef").mkdir(parents=True)
    keep = {out / "thumbs" / "holiday.jpg": b"jpeg", out / "thumbs" / "0123456789abcdef" / "notes.txt": b"mine"}
    for p, data in keep.items():
        p.write_bytes(data)
    analysed(capsys, clip, out, "--force")
    assert all(p.read_bytes() == data for p, data in keep.items())
    assert "data:image/jpeg" in (out / "report.html").read_text()  # thumbnails still made

    elsewhere = tmp_path / "photos"
    elsewhere.mkdir()
    (elsewhere / "t000001000_w192.jpg").write_bytes(b"a user's photo with our naming")
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "thumbs").symlink_to(elsewhere, target_is_directory=True)
    analysed(capsys, clip, linked, "--force")
    assert [p.name for p in elsewhere.iterdir()] == ["t000001000_w192.jpg"]  # nothing written through the link
    assert "data:image/jpeg" in (linked / "report.html").read_text()


def test_a_users_own_reel_in_a_force_folder_is_never_removed(capsys, tmp_path, clip):
    out = tmp_path / "foreign"
    out.mkdir()
    (out / "reel.mp4").write_bytes(b"the user's own reel")
    analysed(capsys, clip, out, "--force")  # --no-render: no reel of ours to put in its place
    assert (out / "reel.mp4").read_bytes() == b"the user's own reel"


def test_a_reel_of_ours_that_no_longer_matches_the_selection_is_set_aside_and_said(capsys, tmp_path, clip):
    out = tmp_path / "out"
    code, _, err = highlights(capsys, "run", clip, "-o", out, "--detector", "classic", "--target-duration", "3",
                              "--render", "copy")
    assert code == 0 and (out / "reel.mp4").exists(), err
    old = (out / "reel.mp4").read_bytes()
    code, _, err = highlights(capsys, "rescore", out, "--target-duration", "6", "--no-render")
    assert code == 0, err
    assert not (out / "reel.mp4").exists()
    assert (out / "reel.stale.mp4").read_bytes() == old, "kept, under a name that says what it is"
    assert "reel.mp4 showed an earlier selection: kept as reel.stale.mp4" in err
    code, _, err = highlights(capsys, "render", out, "--render", "copy")  # rendered again: no stale reel left
    assert code == 0, err
    assert (out / "reel.mp4").exists() and not (out / "reel.stale.mp4").exists()


# ---------------------------------------------------------------- 4, 21. values read back are checked


@pytest.mark.parametrize("fingerprint", ["../../escaped", "/tmp/escaped-abs", "0" * 63 + "/"])
def test_an_edited_fingerprint_never_becomes_a_folder_name(capsys, tmp_path, clip, fingerprint):
    out = analysed(capsys, clip, tmp_path / "out")
    doc = json.loads((out / "segments.json").read_text())
    doc["input"]["fingerprint"] = fingerprint
    (out / "segments.json").write_text(json.dumps(doc))
    before = set(tmp_path.rglob("*"))
    code, _, err = highlights(capsys, "report", out)
    assert code == 5
    assert "segments.json is damaged or was edited by hand (input.fingerprint" in one_error(err)
    assert set(tmp_path.rglob("*")) == before and not Path("/tmp/escaped-abs").exists()


@pytest.mark.parametrize("edit, needle", [
    (lambda d: d["segments"][0].update(start="abc"), "start is not a finite number"),
    (lambda d: d["segments"][0].update(id=["s001"]), "is not of the form s001"),
    (lambda d: d["segments"].append(dict(d["segments"][0])), "appears twice"),
    (lambda d: d["segments"][0].update(end=1e9), "is not inside the input"),
    (lambda d: d.update(segments={"s001": 1}), "segments is not a list"),
])
def test_a_hand_edited_segments_json_is_refused_in_one_line(capsys, tmp_path, clip, edit, needle):
    out = analysed(capsys, clip, tmp_path / "out")
    doc = json.loads((out / "segments.json").read_text())
    edit(doc)
    (out / "segments.json").write_text(json.dumps(doc))
    for command in (("render", out), ("report", out), ("eval", out, "--truth", clip.with_suffix(".json"))):
        if command[0] == "eval":
            clip.with_suffix(".json").write_text('{"events": []}')
        code, _, err = highlights(capsys, *command)
        assert code == 5, (command, err)
        assert needle in one_error(err)


@pytest.mark.parametrize("edit, needle", [
    (lambda d: d.update(duration="long"), "duration is not a positive number"),
    (lambda d: d.update(fingerprint="../x"), "fingerprint is not 64 hex digits"),
    (lambda d: d.update(cache_dir=["a"]), "cache_dir is not a path"),
])
def test_a_hand_edited_analysis_json_is_refused_in_one_line(capsys, tmp_path, clip, edit, needle):
    out = analysed(capsys, clip, tmp_path / "out")
    doc = json.loads((out / "analysis.json").read_text())
    edit(doc)
    (out / "analysis.json").write_text(json.dumps(doc))
    code, _, err = highlights(capsys, "rescore", out, "--no-render")
    assert code == 5 and needle in one_error(err)
    (out / "analysis.json").write_bytes(b"\xff\xfe{broken")
    code, _, err = highlights(capsys, "render", out)
    assert code == 5 and "analysis.json is damaged" in one_error(err)


def test_a_cache_dir_that_cannot_be_written_fails_before_any_work(capsys, tmp_path, clip):
    (tmp_path / "a_file").write_text("x")
    for cache in ("/proc/highlights-cache", tmp_path / "a_file" / "cache"):
        code, _, err = highlights(capsys, "analyze", clip, "-o", tmp_path / "out", "--detector", "classic",
                                  "--cache-dir", cache)
        assert code == 5 and "give --cache-dir a folder you can write" in one_error(err)


def test_an_output_path_longer_than_the_system_allows_is_an_output_error(capsys, tmp_path, clip):
    code, _, err = highlights(capsys, "run", clip, "-o", tmp_path / ("a" * 300), "--detector", "classic")
    assert code == 5 and "File name too long" in one_error(err)


# ---------------------------------------------------------------- 7, 18. never cut from other footage


def test_an_input_overwritten_after_its_analysis_is_refused_by_render_and_rescore(capsys, tmp_path, clip, small_match):
    out = analysed(capsys, clip, tmp_path / "out")
    shutil.copy(small_match, clip)  # another match at the same path
    for command in (("render", out), ("rescore", out), ("rescore", out, "--no-render")):
        code, _, err = highlights(capsys, *command)
        assert code == 3, (command, err)
        assert "has changed since it was analysed" in one_error(err)
    assert not (out / "reel.mp4").exists()


def test_a_swapped_cache_timeline_is_never_used(capsys, tmp_path, clip, small_match):
    out = analysed(capsys, clip, tmp_path / "out")
    other = analysed(capsys, small_match, tmp_path / "other")
    mine = Path(json.loads((out / "analysis.json").read_text())["cache_dir"]) / "timeline.parquet"
    theirs = Path(json.loads((other / "analysis.json").read_text())["cache_dir"]) / "timeline.parquet"
    shutil.copy(theirs, mine)  # 8 s of another clip's signals in place of this 20 s match's
    code, _, err = highlights(capsys, "rescore", out, "--no-render")
    assert code == 0, err
    assert "is not the file written with this record" in err and "analysing match.mp4 again" in err
    doc = json.loads((out / "segments.json").read_text())
    assert max(s["end"] for s in doc["segments"]) <= media.probe(clip).duration_s + 1e-6


@pytest.mark.parametrize("damage", ["truncate_parquet", "break_json"])
def test_a_damaged_cache_is_detected_and_recomputed(capsys, tmp_path, clip, damage):
    out = analysed(capsys, clip, tmp_path / "out")
    cache = Path(json.loads((out / "analysis.json").read_text())["cache_dir"])
    if damage == "truncate_parquet":
        p = cache / "timeline.parquet"
        p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    else:
        (cache / "analysis.json").write_text('{"key": ')
    code, _, err = highlights(capsys, "run", clip, "-o", out, "--detector", "classic", "--no-render")
    assert code == 0, err
    assert "is damaged" in err and "analysing again" in err and "cache hit" not in err
    code, _, err = highlights(capsys, "run", clip, "-o", out, "--detector", "classic", "--no-render")
    assert code == 0 and "cache hit" in err  # the recomputed entry is sound


# ---------------------------------------------------------------- 12, 15, 21. selections


def _cands() -> list[Segment]:
    return [Segment("s001", 0.0, 4.0, 2.0, 1.0, {}, rank=2), Segment("s002", 5.0, 9.0, 7.0, 2.0, {}, rank=1)]


def _write(tmp_path, doc) -> Path:
    p = tmp_path / "selection.json"
    p.write_text(json.dumps(doc))
    return p


FP, CFG = "a" * 64, "b" * 64


def test_a_selection_repeating_one_segment_gives_it_once(tmp_path):
    doc = selection_document(FP, [_cands()[1]] * 3, CFG)
    notes: list[str] = []
    chosen = read_selection(_write(tmp_path, doc), FP, _cands(), 10.0, CFG, notes)
    assert [(s.id, s.start, s.end) for s in chosen] == [("s002", 5.0, 9.0)]
    assert sum("shown once" in n for n in notes) == 2
    overlapping = {"input_fingerprint": FP, "segments": [{"start": 1, "end": 6}, {"start": 5, "end": 9}]}
    chosen = read_selection(_write(tmp_path, overlapping), FP, _cands(), 10.0, CFG, notes)
    assert [(s.start, s.end) for s in chosen] == [(1.0, 9.0)]


def test_a_selection_is_size_limited(tmp_path):
    many = {"input_fingerprint": FP, "segments": [{"start": 0, "end": 1}] * 5000}
    with pytest.raises(ConfigError, match="at most 2000"):
        read_selection(_write(tmp_path, many), FP, _cands(), 10.0)
    p = tmp_path / "huge.json"
    p.write_text('{"segments": [' + " " * (2 << 20) + "]}")
    with pytest.raises(ConfigError, match="larger than 1 MiB"):
        read_selection(p, FP, _cands(), 10.0)


def test_renumbered_segments_are_mapped_by_their_times_and_an_id_alone_needs_the_same_config(tmp_path):
    exported = selection_document(FP, [_cands()[1]], CFG)  # s002 at 5-9 s
    renumbered = [Segment("s001", 5.0, 9.0, 7.0, 2.0, {}), Segment("s002", 12.0, 14.0, 13.0, 1.0, {})]
    notes: list[str] = []
    chosen = read_selection(_write(tmp_path, exported), FP, renumbered, 20.0, "c" * 64, notes)
    assert [(s.id, s.start, s.end) for s in chosen] == [("s001", 5.0, 9.0)]
    assert "s002 (5.0-9.0 s) is now s001" in notes[0]
    gone = [Segment("s001", 0.0, 3.0, 1.0, 1.0, {})]
    chosen = read_selection(_write(tmp_path, exported), FP, gone, 20.0, "c" * 64, notes)
    assert [(s.start, s.end) for s in chosen] == [(5.0, 9.0)]  # the moment exported, not another one
    id_only = {"input_fingerprint": FP, "config_fingerprint": CFG, "segments": [{"id": "s002"}]}
    assert read_selection(_write(tmp_path, id_only), FP, _cands(), 10.0, CFG)[0].start == 5.0
    with pytest.raises(ConfigError, match="by id alone"):
        read_selection(_write(tmp_path, id_only), FP, _cands(), 10.0, "c" * 64)
    with pytest.raises(ConfigError, match="by id alone"):
        read_selection(_write(tmp_path, {"input_fingerprint": FP, "segments": [{"id": "s002"}]}), FP, _cands(), 10.0, CFG)


@pytest.mark.parametrize("item, needle", [
    ({"id": ["s001"]}, "id must be a string"),
    ({"id": "s001", "start": "0", "end": 4}, "finite numbers"),
    ({"start": float("nan"), "end": 4}, "finite numbers"),
    ({"start": 3, "end": 2}, "outside the video"),
    ({}, "needs an id or start and end"),
])
def test_a_bad_selection_entry_is_a_usage_error(tmp_path, item, needle):
    with pytest.raises(ConfigError, match=needle):
        read_selection(_write(tmp_path, {"input_fingerprint": FP, "config_fingerprint": CFG, "segments": [item]}),
                       FP, _cands(), 10.0, CFG)


def test_render_of_a_repeated_selection_cuts_the_moment_once(capsys, tmp_path, clip):
    out = analysed(capsys, clip, tmp_path / "out")
    doc = json.loads((out / "segments.json").read_text())
    first = doc["segments"][0]
    entry = {"id": first["id"], "start": first["start"], "end": first["end"]}
    sel = _write(tmp_path, {"input_fingerprint": doc["input"]["fingerprint"],
                            "config_fingerprint": doc["config_fingerprint"], "segments": [entry] * 3})
    code, _, err = highlights(capsys, "render", out, "--selection", sel, "--render", "copy")
    assert code == 0, err
    assert "shown once" in err
    reel, once = media.probe(out / "reel.mp4").duration_s, first["end"] - first["start"]
    assert once - 0.5 <= reel < 1.5 * once  # copy mode starts at the keyframe before; three copies would be 3x


def test_the_review_page_exports_ids_with_times_and_the_config_fingerprint(capsys, tmp_path, clip):
    out = analysed(capsys, clip, tmp_path / "out")
    html = (out / "report.html").read_text()
    doc = json.loads((out / "segments.json").read_text())
    assert doc["config_fingerprint"] in html
    # what the export writes (the browser tests read the exported file itself)
    assert "{ id: s.id, start: r3(s.start), end: r3(s.end) }" in html


# ---------------------------------------------------------------- 16. NaN and infinity


@pytest.mark.parametrize("args", [
    ("run", "{clip}", "-o", "{out}", "--target-duration", "nan"),
    ("run", "{clip}", "-o", "{out}", "--set", "weights.audio=.inf"),
    ("run", "{clip}", "-o", "{out}", "--set", "media.max_duration_s=.inf"),
    ("batch", "{clip}", "-o", "{out}", "--target-duration", "inf"),
])
def test_nan_and_infinity_are_refused_before_any_work(capsys, tmp_path, clip, args):
    out = tmp_path / "out"
    code, _, err = highlights(capsys, *[a.format(clip=clip, out=out) for a in args])
    assert code == 2 and "finite" in one_error(err)
    assert not out.exists()


def test_rescore_refuses_a_target_that_is_not_finite(capsys, tmp_path, clip):
    out = analysed(capsys, clip, tmp_path / "out")
    before = (out / "segments.json").read_bytes()
    code, _, err = highlights(capsys, "rescore", out, "--target-duration", "inf")
    assert code == 2 and "finite" in one_error(err)
    assert (out / "segments.json").read_bytes() == before


# ---------------------------------------------------------------- 19. every writer takes the folder's lock


def test_rescore_render_and_report_wait_for_no_one_and_never_write_under_another_run(capsys, tmp_path, clip):
    out = analysed(capsys, clip, tmp_path / "out")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, os, sys, time\n"
         f"fd = os.open({str(out / MARKER)!r}, os.O_RDONLY); fcntl.flock(fd, fcntl.LOCK_EX)\n"
         "print('locked', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert holder.stdout.readline().strip() == "locked"
        before = {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.is_file()}
        for command in (("rescore", out, "--no-render"), ("render", out), ("report", out)):
            code, _, err = highlights(capsys, *command)
            assert code == 5, (command, err)
            assert "in use by another highlights process" in one_error(err)
        assert {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.is_file()} == before
    finally:
        holder.kill()
        holder.wait()
    t0 = time.monotonic()
    code, _, err = highlights(capsys, "rescore", out, "--no-render")
    assert code == 0, err  # the holder is gone: its lock went with it
    assert time.monotonic() - t0 < 60


# ---------------------------------------------------------------- the cache knows which detector made it


def test_an_auto_analysis_is_not_reused_once_weights_appear_or_change(tmp_path, monkeypatch):
    from pipeline.config import load_config
    from pipeline.detect import yolo
    from pipeline.errors import WeightsError
    from pipeline.cache import analysis_key

    cfg = load_config(None, ["detect.backend=auto"])

    def none_found(weights, models_dir=None):
        raise WeightsError("no weights given and none in models/")

    monkeypatch.setattr(yolo, "resolve_weights", none_found)
    classic = analysis_key("f" * 64, cfg)
    weights = tmp_path / "model.onnx"
    weights.write_bytes(b"v1")
    monkeypatch.setattr(yolo, "resolve_weights", lambda w, models_dir=None: weights)
    with_weights = analysis_key("f" * 64, cfg)
    weights.write_bytes(b"version 2")  # other weights under the same name
    assert len({classic, with_weights, analysis_key("f" * 64, cfg)}) == 3
