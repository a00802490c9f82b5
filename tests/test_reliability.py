"""Reliability: broken inputs, limits, interrupted runs, atomic outputs, disk full, weights.

What an analyst or an overnight batch job sees: every input gives a result or one line of
error with the documented exit code (0 ok, 1 unexpected, 2 usage/config, 3 input media,
4 weights/model, 5 output, 130 interrupted), never a traceback; a run stopped at any moment
leaves no file that looks complete, and the next run cleans up after it.
The table in docs/reliability.md is made from the same cases (scripts/reliability_table.py).
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from pipeline import media
from pipeline.errors import OutputError
from pipeline.outputs import MARKER, atomic_write, is_temp_name, prepare_output_dir, temp_path, write_text

from .conftest import REPO, ffmpeg, run_cli
from .media_cases import CASES, command_line, make_base

# ---------------------------------------------------------------- helpers


def highlights(capsys, *args: str) -> tuple[int, str, str]:
    """Run the CLI in this process (the same main() and error mapping, without the start-up
    cost of a new interpreter per case)."""
    from pipeline.cli import main

    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and is_temp_name(p.name)] if root.exists() else []


def assert_one_error_line(err: str) -> None:
    assert "Traceback" not in err, err
    errors = [ln for ln in err.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1 and err.rstrip().splitlines()[-1] == errors[0], err


def popen_cli(*args: str) -> subprocess.Popen:
    """`highlights` in its own session, so a signal can go to it and its ffmpeg children
    together, as Ctrl-C in a terminal does."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", COLUMNS="120")
    return subprocess.Popen([sys.executable, "-m", "pipeline.cli", *map(str, args)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def wait_for(pred, timeout_s: float, proc: subprocess.Popen | None = None, poll_s: float = 0.01) -> bool:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        if pred():
            return True
        if proc is not None and proc.poll() is not None:
            return False
        time.sleep(poll_s)
    return False


# ---------------------------------------------------------------- every broken input


@pytest.fixture(scope="module")
def case_dir(tmp_path_factory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("cases")
    return d, make_base(d)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_input_gives_a_result_or_one_line_error(case, case_dir, capsys):
    d, base = case_dir
    path = case.build(d, base)
    out = d / f"out_{case.name}"
    code, stdout, stderr = highlights(capsys, *command_line(case, path, out))
    assert code == case.exit_code, (stdout, stderr)
    if code:
        assert_one_error_line(stderr)
        assert case.expect in stderr
        assert not (out / "timeline.csv").exists() and not (out / "segments.json").exists()
        return
    assert "Traceback" not in stderr
    assert case.expect in stdout, stdout
    # The result is a real one: a timeline over the whole input, no temp file left behind.
    doc = json.loads((out / "analysis.json").read_text())
    info = media.probe(path)
    rows = (out / "timeline.csv").read_text().strip().splitlines()
    assert len(rows) - 1 == pytest.approx(info.duration_s / 0.5, abs=1)
    assert not temp_files(out)
    if case.name == "portrait":
        assert (doc["media"]["width"], doc["media"]["height"]) == (180, 320)
    if case.name == "vfr":
        assert doc["media"]["vfr"] is True and info.duration_s == pytest.approx(2 + 100 * 0.1, abs=0.3)
    if case.name == "ntsc":
        assert doc["media"]["fps"] == pytest.approx(60000 / 1001, rel=1e-3)
    if case.name == "uhd":
        assert (doc["media"]["width"], doc["media"]["height"]) == (3840, 2160)
    if case.name == "video_only":
        assert "motion" in stdout or "audio signals skipped" in stdout


def test_damaged_stream_counts_errors_and_keeps_the_readable_rest(case_dir):
    """Zeroed bytes in the middle: the packets there are counted, the frames around them kept."""
    from .media_cases import CASE_BY_NAME

    d, base = case_dir
    path = CASE_BY_NAME["zeroed"].build(d, base)
    stream = media.frames(path, fps=5, width=160, skip_nonref=False)
    ts = [f.t_s for f in stream]
    assert stream.stats()["decode_errors"] > 0
    assert ts[0] < 0.5 and ts[-1] > 5.0, "frames after the damage are still read"
    # Audio lost in the damage becomes silence of the same length: what follows keeps its time.
    sr = 8000
    track = media.audio(path, sr=sr)
    x = track.read_all()
    ref = media.audio(base, sr=sr).read_all()
    assert track.decode_errors > 0 and len(x) / sr == pytest.approx(len(ref) / sr, abs=0.05)
    after = ref[5 * sr: int(5.5 * sr)]
    lags = range(-sr // 4, sr // 4)
    lag = max(lags, key=lambda k: float(np.dot(after, x[5 * sr + k: 5 * sr + k + len(after)])))
    assert abs(lag) <= 0.01 * sr, f"audio after the damage is {lag / sr:+.3f} s off"


# ---------------------------------------------------------------- output folder safety


def test_foreign_folder_is_not_written_without_force(case_dir, tmp_path, capsys):
    _, base = case_dir
    out = tmp_path / "holiday_photos"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code, _, err = highlights(capsys, "analyze", base, "-o", out, "--detector", "classic")
    assert code == 5 and "--force" in err
    assert_one_error_line(err)
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    code, _, err = highlights(capsys, "analyze", base, "-o", out, "--detector", "classic", "--force")
    assert code == 0, err
    assert (out / "keep.txt").read_text() == "mine" and (out / "timeline.csv").exists()


def test_output_that_is_a_file_is_refused(case_dir, tmp_path, capsys):
    _, base = case_dir
    out = tmp_path / "report.pdf"
    out.write_text("not a folder")
    code, _, err = highlights(capsys, "analyze", base, "-o", out, "--detector", "classic")
    assert code == 2 and "is a file" in err and "Traceback" not in err  # refused as usage, before any work
    assert out.read_text() == "not a folder"
    with pytest.raises(OutputError, match="not a folder"):  # the same check for batch and library callers
        prepare_output_dir(out)


def test_a_folder_in_use_by_another_run_is_refused_and_left_alone(small_match, tmp_path, capsys):
    """Two runs into one folder would overwrite each other's files and remove each other's
    temp files: the second is refused at once (exit 5), the first's files are untouched."""
    out = tmp_path / "out"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pipeline.outputs import prepare_output_dir; "
        f"prepare_output_dir({str(out)!r}); print('locked', flush=True); time.sleep(60)")],
        cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        working = temp_path(out / "segments.json")  # the first run is writing this
        working.write_text("{}")
        for args in (["run", small_match, "-o", out, "--detector", "classic"], ["batch", small_match, "-o", out]):
            code, _, err = highlights(capsys, *args)
            assert code == 5, err
            assert_one_error_line(err)
            assert "in use by another highlights process" in err
            assert working.exists()
    finally:
        holder.kill()
        holder.wait()
    # Once the first process is gone (killed, even), the folder is free again.
    code, _, err = highlights(capsys, "run", small_match, "-o", out, "--detector", "classic", "--no-render")
    assert code == 0, err
    assert not working.exists()  # a dead run's temp file is cleaned up by the next one


# ---------------------------------------------------------------- atomic writes


def test_atomic_write_never_leaves_a_half_file(tmp_path):
    target = tmp_path / "segments.json"
    target.write_text('{"old": true}')

    def half_then(exc):
        def write(tmp: Path):
            tmp.write_text('{"new": ')  # half of the new content is on disk ...
            raise exc  # ... when the run dies

        return write

    for exc in (RuntimeError("boom"), KeyboardInterrupt()):
        with pytest.raises(type(exc)):
            atomic_write(target, half_then(exc))
        assert target.read_text() == '{"old": true}'
        assert not temp_files(tmp_path)
    with pytest.raises(OutputError, match="disk full"):
        atomic_write(target, half_then(OSError(errno.ENOSPC, "No space left on device")))
    assert target.read_text() == '{"old": true}' and not temp_files(tmp_path)
    write_text(target, '{"new": true}')
    assert target.read_text() == '{"new": true}' and not temp_files(tmp_path)


# ---------------------------------------------------------------- interrupted runs


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory) -> Path:
    """60 s, 320x180: long enough to be interrupted in the middle of its analysis."""
    p = tmp_path_factory.mktemp("long") / "long.mp4"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=s=320x180:r=25:d=60", "-f", "lavfi", "-i", "sine=f=300:d=60",
           "-c:v", "libx264", "-preset", "ultrafast", "-crf", "35", "-c:a", "aac", "-shortest", str(p))
    return p


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupt_during_analysis_exits_130_and_leaves_nothing_that_looks_complete(long_clip, tmp_path, sig):
    """Ctrl-C reaches the whole process group; SIGTERM (a scheduler, `kill PID`) only the
    highlights process itself."""
    out = tmp_path / "out"
    proc = popen_cli("run", long_clip, "-o", out, "--detector", "classic", "--no-render")
    try:
        assert wait_for(lambda: (out / MARKER).exists(), 120, proc), "the run never created its output folder"
        time.sleep(3.0)  # well inside the analysis of 60 s of video
        assert proc.poll() is None, "the run ended before it could be interrupted"
        if sig == signal.SIGINT:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert_one_error_line(err)
    assert err.rstrip().endswith("error: interrupted")
    assert not temp_files(out)
    for name in ("segments.json", "reel.mp4", "run.json", "timeline.csv"):
        assert not (out / name).exists(), name


@pytest.fixture(scope="module")
def render_cache(tmp_path_factory) -> Path:
    """One analysis cache shared by the render tests: each analyses short_match at most once."""
    return tmp_path_factory.mktemp("render_cache")


def _reel_temps(out: Path) -> list[Path]:
    """The render's temp files (the editor files' `.reel.otio.*` come before it, at selection)."""
    return [p for p in out.iterdir() if p.name.startswith(".reel.mp4.")] if out.exists() else []


def _signal_during_render(video: Path, out: Path, cache: Path, sig: int,
                          group: bool = True) -> tuple[subprocess.Popen, bool, str]:
    """Start `run`, send `sig` to its whole process group (ffmpeg included, as a terminal
    does) or, with `group=False`, to highlights alone (as `kill PID` does), once the render's
    temp files appear; (process, whether the signal came mid-render, stderr)."""
    proc = popen_cli("run", video, "-o", out, "--detector", "classic", "--target-duration", "15", "--cache-dir", cache)
    try:
        caught = wait_for(lambda: bool(_reel_temps(out)), 300, proc)
        if caught:
            time.sleep(0.3)
            if group:
                os.killpg(proc.pid, sig)
            else:
                proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    return proc, caught, err


def test_sigkill_during_render_then_rerun_completes_and_cleans_up(short_match, render_cache, tmp_path):
    out = tmp_path / "out"
    proc, caught, err = _signal_during_render(short_match, out, render_cache, signal.SIGKILL)
    assert caught, f"the run finished before its render could be killed (exit {proc.returncode}): {err[-500:]}"
    assert not (out / "reel.mp4").exists(), "a killed render must not leave a reel that looks complete"
    assert not (out / "run.json").exists()
    assert temp_files(out), "the kill came mid-write: its temp files are still there"

    r = run_cli("run", short_match, "-o", out, "--detector", "classic", "--target-duration", "15",
                "--cache-dir", render_cache)
    assert r.returncode == 0, r.stderr
    assert not temp_files(out), "the next run removes what the killed one left"
    doc = json.loads((out / "segments.json").read_text())
    chosen = [s for s in doc["segments"] if s["selected"]]
    assert chosen
    reel = media.probe(out / "reel.mp4")
    assert reel.duration_s == pytest.approx(sum(s["end"] - s["start"] for s in chosen), abs=0.3)
    assert json.loads((out / "run.json").read_text())["command"] == "run"

    # A new selection replaces segments.json: the old reel no longer matches it and is set aside, said.
    r = run_cli("rescore", out, "--no-render", "--set", "weights.audio=0", "--set", "weights.shots=0",
                "--target-duration", "8")
    new = [s for s in json.loads((out / "segments.json").read_text())["segments"] if s["selected"]]
    assert r.returncode == 0
    if [(s["start"], s["end"]) for s in new] != [(s["start"], s["end"]) for s in chosen]:
        assert not (out / "reel.mp4").exists(), "a reel of another selection must not pass for this one's"
        assert (out / "reel.stale.mp4").exists() and "kept as reel.stale.mp4" in r.stderr


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_interrupt_during_render_exits_130_without_a_reel(short_match, render_cache, tmp_path, sig):
    out = tmp_path / "out"
    proc, caught, err = _signal_during_render(short_match, out, render_cache, sig, group=sig == signal.SIGINT)
    assert caught, f"the run finished before its render could be interrupted (exit {proc.returncode}): {err[-500:]}"
    assert proc.returncode == 130, err
    assert_one_error_line(err)
    assert not (out / "reel.mp4").exists()
    assert not temp_files(out)
    assert wait_for(lambda: not _processes_writing_into(out), 10), "an encoder outlived the run"


def _processes_writing_into(out: Path) -> list[str]:
    """Command lines of live processes that name `out` (an ffmpeg the render started)."""
    found = []
    for cmd in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            line = cmd.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(out) in line:
            found.append(line)
    return found


# ---------------------------------------------------------------- disk full


@pytest.fixture
def tiny_disk(tmp_path):
    """A 400 KiB tmpfs: room for the evidence files, not for the reel."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(mnt)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip() or 'not permitted'}); "
                    "disk full is covered in-process by test_atomic_write_never_leaves_a_half_file")
    yield mnt
    subprocess.run(["umount", str(mnt)], capture_output=True)


def test_disk_full_while_writing_the_reel(short_match, render_cache, tiny_disk):
    out = tiny_disk / "out"
    r = run_cli("run", short_match, "-o", out, "--detector", "classic", "--target-duration", "15",
                "--cache-dir", render_cache)
    assert r.returncode == 5, r.stderr
    assert_one_error_line(r.stderr)
    assert "disk full" in r.stderr
    assert not (out / "reel.mp4").exists()
    assert not temp_files(out), "the partial reel is removed"
    assert (out / "segments.json").exists(), "the evidence written before the reel is kept"


# ---------------------------------------------------------------- weights


def test_a_model_name_is_never_downloaded(case_dir, tmp_path, capsys, monkeypatch):
    """`yolo11n.pt` is a name ultralytics would fetch from the internet; here it must be a
    local file or the run stops with exit 4 (a .pt file is a pickle: it can run code)."""
    _, base = case_dir
    monkeypatch.chdir(tmp_path)
    code, _, err = highlights(capsys, "analyze", base, "-o", tmp_path / "out", "--detector", "yolo",
                              "--weights", "yolo11n.pt")
    assert code == 4, err
    assert_one_error_line(err)
    assert "models/README.md" in err
    assert not list(tmp_path.rglob("*.pt")), "nothing was downloaded"
