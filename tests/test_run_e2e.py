"""End to end on a short generated match: run, cache reuse, rescore, render, eval."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline import media, synth

from .conftest import real_clip, run_cli


@pytest.fixture(scope="module")
def run_out(tmp_path_factory, short_match):
    out = tmp_path_factory.mktemp("e2e") / "out"
    r = run_cli("run", short_match, "-o", out, "--target-duration", "15", "--detector", "classic")
    assert r.returncode == 0, r.stderr
    return out, r


def test_run_writes_every_output(run_out):
    out, r = run_out
    for name in ("reel.mp4", "segments.json", "timeline.csv", "config.yaml", "run.json"):
        assert (out / name).is_file(), name
    run = json.loads((out / "run.json").read_text())
    assert {"audio", "decode", "detect", "track"} <= set(run["timings_s"])
    assert "versions" in run and "device" in run
    assert "selected" in r.stderr + r.stdout


def test_goal_is_in_the_reel(run_out, short_match):
    out, _ = run_out
    r = run_cli("eval", out, "--truth", synth.truth_path_for(short_match), "--json")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["goal_recall"] == 1.0


def test_reel_within_target_chronological_with_sound(run_out):
    out, _ = run_out
    doc = json.loads((out / "segments.json").read_text())
    chosen = [s for s in doc["segments"] if s["selected"]]
    assert chosen and sum(s["end"] - s["start"] for s in chosen) <= 15.0 + 1e-6
    starts = [s["start"] for s in chosen]
    assert starts == sorted(starts)
    info = media.probe(out / "reel.mp4")
    assert info.duration_s == pytest.approx(sum(s["end"] - s["start"] for s in chosen), abs=0.3)
    x = media.audio(out / "reel.mp4", sr=8000).read_all()
    assert len(x) > 8000 and np.sqrt(np.mean(x ** 2)) > 1e-3


def test_timeline_csv_contract(run_out):
    out, _ = run_out
    header = (out / "timeline.csv").read_text().splitlines()[0].split(",")
    assert header[0] == "t" and header[-1] == "score"
    assert all("_" in h for h in header[1:-1])
    assert {"audio_roar", "motion_speed", "shots_cut"} <= set(header)


def test_second_run_reuses_the_analysis_cache(run_out, short_match):
    out, _ = run_out
    r = run_cli("run", short_match, "-o", out, "--target-duration", "15", "--detector", "classic", "--no-render")
    assert r.returncode == 0, r.stderr
    assert "cache hit" in r.stderr
    assert json.loads((out / "run.json").read_text())["cache_hit"] is True


def test_rescore_reweights_without_decoding(run_out):
    out, _ = run_out
    r = run_cli("rescore", out, "--set", "weights.audio=0", "--no-render")
    assert r.returncode == 0, r.stderr
    doc = json.loads((out / "segments.json").read_text())
    assert doc["weights_used"]["audio"] == 0.0
    assert doc["config"]["weights"]["audio"] == 0.0
    run = json.loads((out / "run.json").read_text())
    assert run["command"] == "rescore" and "decode" not in run["timings_s"]
    # Restore for the other tests.
    assert run_cli("rescore", out, "--set", "weights.audio=0.45", "--no-render").returncode == 0


def test_render_selection_by_id_and_refuses_other_inputs(run_out, tmp_path):
    out, _ = run_out
    doc = json.loads((out / "segments.json").read_text())
    first = doc["segments"][0]
    sel = tmp_path / "sel.json"
    # An id alone holds under the config that numbered it (its fingerprint rides along).
    sel.write_text(json.dumps({"schema_version": "1.1", "input_fingerprint": doc["input"]["fingerprint"],
                               "config_fingerprint": doc["config_fingerprint"], "segments": [{"id": first["id"]}]}))
    r = run_cli("render", out, "--selection", sel)
    assert r.returncode == 0, r.stderr
    assert media.probe(out / "reel.mp4").duration_s == pytest.approx(first["end"] - first["start"], abs=0.3)
    sel.write_text(json.dumps({"schema_version": "1.0", "input_fingerprint": "0" * 64, "segments": [{"id": first["id"]}]}))
    r = run_cli("render", out, "--selection", sel)
    assert r.returncode == 2 and "another input" in r.stderr and "Traceback" not in r.stderr


def test_existing_foreign_folder_needs_force(tmp_path, short_match):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    r = run_cli("run", short_match, "-o", out, "--detector", "classic", "--no-render")
    assert r.returncode == 5 and "--force" in r.stderr
    assert (out / "notes.txt").read_text() == "keep me"


def test_audio_only_input_is_a_media_error(tmp_path, bad_inputs):
    r = run_cli("run", bad_inputs["audio_only"], "-o", tmp_path / "o")
    assert r.returncode == 3 and "no video stream" in r.stderr


def test_rescore_from_another_working_directory(tmp_path, short_match):
    """An output dir made with relative paths still rescores and renders from elsewhere."""
    import shutil

    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(short_match, work / "m.mp4")
    r = run_cli("run", "m.mp4", "-o", "out", "--detector", "classic", "--target-duration", "10", "--no-render", cwd=work)
    assert r.returncode == 0, r.stderr
    r = run_cli("rescore", work / "out", "--set", "weights.motion=0.5")
    assert r.returncode == 0, r.stderr
    assert (work / "out" / "reel.mp4").exists()


@pytest.mark.real
def test_a_real_goal_clip_on_its_own_gets_its_goal_in_the_reel(tmp_path):
    """The Benfica clip is 11.7 s of attack, goal (4.9 s) and celebration: excitement from
    end to end, so against its own baseline the goal scores only ~0.6. Shorter than the
    audio baseline, its candidates are ranked without the minimum score."""
    clip = real_clip("goal_benfica_porto_audio/goal.mp4")
    out = tmp_path / "out"
    r = run_cli("run", clip, "-o", out, "--no-render")
    assert r.returncode == 0, r.stderr
    doc = json.loads((out / "segments.json").read_text())
    chosen = [(s["start"], s["end"]) for s in doc["segments"] if s["selected"]]
    assert any(a <= 1.9 and b >= 5.9 for a, b in chosen), chosen  # [goal - 3 s, goal + 1 s]
    assert "no minimum score" in r.stdout + r.stderr
    e = run_cli("eval", out, "--truth", clip.parent / "labels.json", "--json")
    assert json.loads(e.stdout)["goal_recall"] == 1.0
    # A reel shorter than the goal's core (6 of ~8.5 s) is the core cut down around the
    # moment, never an empty reel. (Its end lands on the cut to the celebration close-up and
    # steps half an analysis frame, 0.1 s, inside it.)
    r = run_cli("rescore", out, "--no-render", "--target-duration", "6")
    assert r.returncode == 0, r.stderr
    chosen = [(s["start"], s["end"]) for s in json.loads((out / "segments.json").read_text())["segments"]
              if s["selected"]]
    assert len(chosen) == 1 and 5.89 <= chosen[0][1] - chosen[0][0] <= 6.0 + 1e-6, chosen
    assert chosen[0][0] <= 1.9 and chosen[0][1] >= 5.9, chosen


@pytest.mark.real
def test_a_real_goal_shown_from_its_celebration_opens_on_the_cut_to_it(tmp_path):
    """The Barcelona clip opens on 0.45 s of earlier play spliced in before the celebration
    of a goal scored before the footage begins; the roar and the cry come seconds into the
    celebration, then four replays. The goal's moment is the cut to the celebration: an 8 s
    reel opens there, not on the spliced shot and not seconds into the celebration."""
    clip = real_clip("goal_barca_athletic_replays_audio/mesi.mp4")
    out = tmp_path / "out"
    r = run_cli("run", clip, "-o", out, "--no-render", "--target-duration", "8")
    assert r.returncode == 0, r.stderr
    doc = json.loads((out / "segments.json").read_text())
    chosen = [s for s in doc["segments"] if s["selected"]]
    assert len(chosen) == 1 and chosen[0]["kind"] == "goal" and chosen[0]["replay_of"] is None, chosen
    assert 0.4 <= chosen[0]["start"] <= 0.6 and chosen[0]["end"] >= 6.0, chosen[0]
    assert "replay package" in chosen[0]["reason"] and "celebration/reaction close-ups" in chosen[0]["reason"]
