"""What leaves the tool for an editor, read back with the libraries editors' tools use:
OpenTimelineIO (and its EDL and Final Cut Pro adapters), PyAV for the reel's chapters,
`srt` for the subtitles, csv for the timecodes; and --split, --json."""

from __future__ import annotations

import csv
import json

import av
import opentimelineio as otio
import pytest
import srt

from pipeline.export import EDITOR_FILES, frames_of, title
from pipeline.report.files import read_segments, segments_from_document

from .conftest import run_cli


@pytest.fixture(scope="module")
def exported(short_match, tmp_path_factory):
    """`highlights run --split --json` on the 20 s generated match, with a 12 s reel."""
    out = tmp_path_factory.mktemp("export") / "out"
    r = run_cli("run", short_match, "-o", out, "--target-duration", "12", "--split", "--json")
    assert r.returncode == 0, r.stderr
    chosen = sorted((s for s in segments_from_document(read_segments(out)) if s.selected), key=lambda s: s.start)
    assert chosen
    with av.open(str(short_match)) as c:
        fps = float(c.streams.video[0].average_rate)
    return out, chosen, fps, json.loads(r.stdout), short_match


@pytest.mark.parametrize("name", list(EDITOR_FILES))
def test_each_editor_file_holds_one_clip_per_segment_at_its_source_frames(exported, name):
    out, chosen, fps, _, video = exported
    kw = {"rate": fps} if name.endswith(".edl") else {}
    tl = otio.adapters.read_from_file(str(out / name), adapter_name=EDITOR_FILES[name], **kw)
    clips = list(tl.video_tracks()[0].find_clips())
    assert len(clips) == len(chosen)
    for clip, seg in zip(clips, chosen):
        a, b = frames_of(seg, fps)
        rng = clip.source_range
        assert round(rng.start_time.rescaled_to(fps).value) == a
        assert round(rng.duration.rescaled_to(fps).value) == b - a
        assert seg.id in clip.name
        if not name.endswith(".edl"):  # an EDL names a reel, not a file
            assert clip.media_reference.target_url == video.resolve().as_uri()


def test_the_otio_file_keeps_each_segments_evidence_and_an_audio_track(exported):
    out, chosen, *_ = exported
    tl = otio.adapters.read_from_file(str(out / "reel.otio"))
    assert len(tl.audio_tracks()) == 1 and len(list(tl.audio_tracks()[0].find_clips())) == len(chosen)
    meta = [c.metadata["highlights"] for c in tl.video_tracks()[0].find_clips()]
    assert [m["id"] for m in meta] == [s.id for s in chosen]
    assert [m["reason"] for m in meta] == [s.reason for s in chosen]


def test_the_reel_has_a_chapter_per_segment_and_the_srt_the_same_titles(exported):
    out, chosen, fps, *_ = exported
    with av.open(str(out / "reel.mp4")) as c:
        chapters = c.chapters()
        reel_s = float(c.duration / av.time_base)
    assert [ch["metadata"]["title"] for ch in chapters] == [title(s) for s in chosen]
    starts = [float(ch["start"] * ch["time_base"]) for ch in chapters]
    ends = [float(ch["end"] * ch["time_base"]) for ch in chapters]
    assert starts[0] == 0 and ends[-1] == pytest.approx(reel_s, abs=0.1)
    assert all(e == pytest.approx(s2, abs=1e-3) for e, s2 in zip(ends, starts[1:]))  # back to back
    for (a, b), seg in zip(zip(starts, ends), chosen):
        assert b - a == pytest.approx(seg.duration, abs=2.0 / fps)
    subs = list(srt.parse((out / "reel.srt").read_text()))
    assert [s.content for s in subs] == [title(s) for s in chosen]
    assert [s.start.total_seconds() for s in subs] == pytest.approx(starts, abs=2.0 / fps)


def test_the_csv_lists_every_candidate_with_timecodes_that_read_back_as_its_frames(exported):
    out, chosen, fps, *_ = exported
    rows = list(csv.DictReader((out / "segments.csv").open()))
    everyone = segments_from_document(read_segments(out))
    assert [r["id"] for r in rows] == [s.id for s in sorted(everyone, key=lambda s: s.start)]
    for r in rows:
        a, b = int(r["start_frame"]), int(r["end_frame"])
        assert otio.opentime.from_timecode(r["start_tc"], fps).value == a
        assert otio.opentime.from_timecode(r["end_tc"], fps).value == b
        assert int(r["duration_frames"]) == b - a
        assert a == round(float(r["start_s"]) * fps)
    assert {r["id"] for r in rows if r["selected"] == "1"} == {s.id for s in chosen}


def test_split_writes_one_file_per_segment_and_json_names_them(exported):
    out, chosen, fps, doc, _ = exported
    assert doc["split"] == [str(out / "segments" / f"{s.id}.mp4") for s in chosen]
    assert [s["id"] for s in doc["selection"]] == [s.id for s in chosen]
    assert doc["reel"] == str(out / "reel.mp4") and doc["selected"] == len(chosen)
    for seg in chosen:
        with av.open(str(out / "segments" / f"{seg.id}.mp4")) as c:
            n = sum(1 for _ in c.decode(video=0))
        a, b = frames_of(seg, fps)
        assert abs(n - (b - a)) <= 1  # re-encoded, frame-exact to the rounding of its edges


def test_a_rescore_that_selects_nothing_removes_the_editor_files(exported, tmp_path):
    out, *_ = exported
    r = run_cli("rescore", out, "--no-render", "--set", "segments.min_prominence=1000", "--json")
    try:
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["selected"] == 0
        assert not any((out / name).exists() for name in [*EDITOR_FILES, "reel.srt"])
        assert (out / "segments.csv").exists()
    finally:
        run_cli("rescore", out, "--no-render", "--set", "segments.min_prominence=0.5")


@pytest.mark.parametrize("fps, written", [(30000 / 1001, set(EDITOR_FILES)), (25.0, set(EDITOR_FILES)),
                                          (15.0, {"reel.otio"})])
def test_editor_files_at_broadcast_rates_and_at_rates_timecode_cannot_say(tmp_path, fps, written):
    """NTSC footage (PyAV reads 30000/1001 as 29.97002997...) gets every file; at 15 fps the
    formats with SMPTE timecode are left out with a note, and the .otio and the CSV still come."""
    from pipeline.export import write_selection_files
    from pipeline.types import Segment

    segs = [Segment("s001", 1.0, 6.0, 3.0, 1.0, {}, rank=1, selected=True, kind="goal"),
            Segment("s002", 8.0, 12.0, 10.0, 0.5, {}, rank=2)]
    notes: list[str] = []
    paths = write_selection_files(tmp_path, segs, tmp_path / "match.mp4", fps, 20.0, notes)
    assert {n for n in EDITOR_FILES if (tmp_path / n).exists()} == written
    assert len(notes) == len(EDITOR_FILES) - len(written)
    assert all("reel.otio holds the same cut" in n for n in notes)
    rows = list(csv.DictReader((tmp_path / "segments.csv").open()))
    assert [int(r["start_frame"]) for r in rows] == [round(1.0 * fps), round(8.0 * fps)]
    assert (rows[0]["start_tc"] == "") == (fps == 15.0)
    assert "reel.srt" in paths
