"""The `highlights` command: parses options, calls run/batch, renders progress and errors.

No analysis logic lives here. Expected failures print one line on stderr and exit with the
documented code (README, "Exit codes"); tracebacks only with --debug. Heavy libraries are
imported inside the commands that need them so `highlights --help` answers at once.
"""

from __future__ import annotations

import json
import logging
import sys
from contextlib import contextmanager
from pathlib import Path

import click

from .errors import ConfigError, PipelineError

_DEBUG = False
_QUIET = False  # -q: no progress bars, notes or summaries


def _err(msg: str) -> None:
    """One line on stderr, whatever the message holds (ffmpeg and moviepy errors span lines)."""
    line = " ".join(str(msg).split())
    if len(line) > 600:
        line = line[:597] + "..."
    click.echo(f"error: {line}", err=True)


def _stdout_is_broken() -> bool:
    """True when the BrokenPipeError came from our own stdout (`highlights probe | head`)."""
    try:
        sys.stdout.flush()
        return False
    except (BrokenPipeError, ValueError):
        # Nothing more can be written there; keep the interpreter's exit flush quiet.
        try:
            import os

            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return True


# What a stage's progress counts, shown beside its bar ("312/600 s" of footage).
STAGE_UNITS = {"video": "s", "audio": "s", "detect": "s", "matches": "matches",
               "frames": "frames"}
ETA_AFTER_S = 5.0  # no ETA before a stage has run this long and done 5%: early rates mislead


def _columns():
    from rich.progress import BarColumn, ProgressColumn, TaskProgressColumn, TextColumn, TimeElapsedColumn
    from rich.text import Text

    class Done(ProgressColumn):
        def render(self, task):
            unit = task.fields.get("unit")
            if not unit or task.total is None:
                return Text("")
            return Text(f"{task.completed:.0f}/{task.total:.0f} {unit}")

    class SettledEta(ProgressColumn):
        def render(self, task):
            left = task.time_remaining
            if task.total is None or task.finished or left is None or task.elapsed is None \
                    or task.elapsed < ETA_AFTER_S or task.percentage < 5:
                return Text("")
            return Text(f"eta {int(left // 3600)}:{int(left % 3600 // 60):02d}:{int(left % 60):02d}")

    return (TextColumn("[bold]{task.description:<10}"), BarColumn(), TaskProgressColumn(), Done(),
            TimeElapsedColumn(), SettledEta())


@contextmanager
def progress(description: str, total: float | None = None, unit: str | None = None):
    """A rich progress bar on stderr (elapsed time; an ETA once it settles; what it counts,
    `unit`, from STAGE_UNITS by default); yields an `update(completed)` callable."""
    from rich.progress import Progress

    with Progress(*_columns(), transient=False, console=_console()) as bar:
        first = description.split(":")[-1].split()[0] if description else ""
        task = bar.add_task(description, total=total, unit=unit or STAGE_UNITS.get(first))

        def update(completed: float, total_: float | None = None) -> None:
            bar.update(task, completed=completed, total=total_ if total_ is not None else bar.tasks[task].total)

        yield update
        t = bar.tasks[task]
        if t.total is not None:
            bar.update(task, completed=t.total)


def _console():
    """Where progress and summaries go (stderr; nowhere with -q). Not a terminal (a log
    file, a pipe): lines are not folded at 80 columns."""
    import os

    from rich.console import Console

    if _QUIET:
        return Console(stderr=True, quiet=True)
    tty = sys.stderr.isatty()
    wide = tty or bool(os.environ.get("COLUMNS"))
    return Console(stderr=True, soft_wrap=not tty, width=None if wide else 200)


def config_options(f):
    f = click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE",
                     help="Override one config value (repeatable), e.g. --set weights.audio=0.7.")(f)
    f = click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
                     help="YAML file with the values that differ from the defaults (pipeline/configs/default.yaml).")(f)
    return f


def _out_config(out, config_path) -> list[Path]:
    """The config files a command on OUT reads: OUT/config.yaml (what made it), then
    --config (a profile, or the review page's export) over it."""
    base = Path(out) / "config.yaml"
    return ([base] if base.exists() else []) + ([Path(config_path)] if config_path else [])


def load_cfg(config_path, overrides, extra: dict | None = None):
    """The config file and --set overrides, then the command's own options (`extra`,
    dotted keys; None = not given) as typed values, validated like --set."""
    from .config import load_config, with_updates

    cfg = load_config(config_path, list(overrides))
    given = {k: v for k, v in (extra or {}).items() if v is not None}
    return with_updates(cfg, **given) if given else cfg


# `highlights --help` lists the commands in the order a user meets them, not alphabetically.
COMMAND_ORDER = ("run", "rescore", "render", "report", "eval", "batch", "analyze", "detect", "eval-detector",
                 "train-detector", "bench", "probe", "synth", "doctor")
# Options of the whole tool that are also accepted after the command (`highlights run ... --debug`).
GLOBAL_FLAGS = ("--debug", "-q", "--quiet", "-v", "--verbose")


class _Commands(click.Group):
    def list_commands(self, ctx):
        names = super().list_commands(ctx)
        return sorted(names, key=lambda n: (COMMAND_ORDER.index(n) if n in COMMAND_ORDER else len(COMMAND_ORDER), n))


def hoist_global_flags(argv: list[str]) -> list[str]:
    """GLOBAL_FLAGS anywhere before a `--` moved in front of the command, where click reads them."""
    end = argv.index("--") if "--" in argv else len(argv)
    flags = [a for a in argv[:end] if a in GLOBAL_FLAGS]
    return flags + [a for a in argv[:end] if a not in GLOBAL_FLAGS] + argv[end:]


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs (also accepted after the command).")
@click.option("-q", "--quiet", is_flag=True,
              help="No progress bars, notes or summaries (errors, --json, and what reporting commands print, stay).")
@click.option("-v", "--verbose", is_flag=True, help="Also log what each stage decides (INFO).")
@click.version_option(package_name="football-highlights", prog_name="highlights")
def cli(debug: bool, quiet: bool, verbose: bool) -> None:
    """Football highlights: match footage in, a highlight reel and its evidence out.

    \b
    Typical use:
      highlights run match.mp4 -o out/            analyse, pick, render, review page
      highlights rescore out/ --set weights.audio=0.8
      highlights render out/ --selection selection.json
      highlights doctor                           what this machine gives the pipeline
    """
    global _DEBUG, _QUIET
    _DEBUG, _QUIET = debug, quiet and not debug
    level = logging.DEBUG if debug else logging.INFO if verbose else logging.ERROR if _QUIET else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", force=True)


@cli.command()
@click.argument("video", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def probe(video: str, as_json: bool) -> None:
    """Show what VIDEO holds: duration, frame rate (variable?), size, rotation, audio."""
    from . import media

    info = media.probe(video)
    if as_json:
        click.echo(json.dumps(info.to_dict(), indent=2))
        return
    click.echo(f"{info.path}")
    click.echo(f"  container  {info.container}, {info.size_bytes / 1e6:.1f} MB, {info.duration_s:.2f} s")
    if info.stated_duration_s and abs(info.stated_duration_s - info.duration_s) > 1.0:
        click.echo(f"  length     the header says {info.stated_duration_s:.2f} s; the footage ends at {info.duration_s:.2f} s")
    if info.has_video:
        rate = f"{info.fps:.3f} fps" + (" (variable)" if info.vfr else "")
        rot = f", rotated {info.rotation} deg" if info.rotation else ""
        click.echo(f"  video      {info.codec} {info.width}x{info.height}{rot}, {rate}, B-frames: {'yes' if info.has_b_frames else 'no'}")
    else:
        click.echo("  video      none")
    if info.audio:
        for a in info.audio:
            chosen = " (analysed)" if len(info.audio) > 1 and a.index == info.audio_stream else ""
            click.echo(f"  audio      {a.codec} {a.channels} ch {a.sample_rate} Hz{chosen}")
    else:
        click.echo("  audio      none")


@cli.command()
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False), required=True,
              help="Output .mp4; the truth is written beside it as <name>.truth.json.")
@click.option("--duration", type=click.FloatRange(min=1.0, max=4 * 3600), default=120.0, show_default=True,
              help="Length in seconds.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed (same seed, same match).")
@click.option("--size", default="640x360", show_default=True, help="Frame size WxH in pixels.")
@click.option("--fps", type=click.FloatRange(min=1, max=120), default=25.0, show_default=True, help="Frame rate.")
@click.option("--calm", type=click.FloatRange(min=1.0), default=60.0, show_default=True,
              help="Longest calm stretch between attacks, in seconds (each is 0.3-1x this): 60 makes a dense "
                   "match, ~300 a real match's pace of a shot every few minutes.")
@click.option("--no-scorebug", is_flag=True, help="Draw no score overlay (footage without a score bug).")
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
def synth(output: str, duration: float, seed: int, size: str, fps: float, calm: float, no_scorebug: bool,
          force: bool) -> None:
    """Generate a synthetic match with known goals and chances (test and demo material)."""
    from . import synth as synth_mod
    from .errors import OutputError

    try:
        w, h = (int(v) for v in size.lower().split("x"))
    except ValueError:
        raise ConfigError(f"--size {size!r}: expected WxH, e.g. 640x360") from None
    if w < 64 or h < 64 or w > 7680 or h > 4320:
        raise ConfigError(f"--size {size!r}: width and height must be 64..7680 x 64..4320")
    out = Path(output)
    if out.exists() and not force:
        raise OutputError(f"{out} exists; use --force to overwrite")
    with progress("synth", total=1.0) as update:
        truth = synth_mod.generate(out, duration_s=duration, seed=seed, size=(w, h), fps=fps, progress=update,
                                   calm_s=calm, scorebug=not no_scorebug)
    goals = sum(e["type"] == "goal" for e in truth["events"])
    chances = sum(e["type"] == "chance" for e in truth["events"])
    click.echo(f"wrote {out} ({duration:.0f} s, {w}x{h}, {goals} goals, {chances} chances)")
    click.echo(f"truth {synth_mod.truth_path_for(out)}")


class RichReporter:
    """Progress bars per stage (with ETA) and one-line messages, on stderr."""

    def stage(self, name: str, total: float | None):
        return progress(name, total)

    def message(self, text: str) -> None:
        if not _QUIET:
            click.echo(text, err=True)


def _target_option(f):
    return click.option("--target-duration", type=click.FloatRange(min=1.0), default=None,
                        help="Reel length in seconds (default: segments.target_fraction of the input).")(f)


def _detector_option(f):
    f = click.option("--weights", default=None, help="YOLO weights: a path (.pt/.onnx), a file in models/, or a name.")(f)
    return click.option("--detector", type=click.Choice(["auto", "yolo", "classic"]), default=None,
                        help="Detection backend (default: detect.backend from config).")(f)


def _cache_option(f):
    return click.option("--cache-dir", type=click.Path(file_okay=False), default=None,
                        help="Where analysis caches live (default OUT/cache); share it between output dirs.")(f)


def _json_option(f):
    return click.option("--json", "as_json", is_flag=True,
                        help="Print the summary as JSON on stdout, notes included (progress bars stay on stderr).")(f)


def _name_option(f):
    return click.option("--name", default=None, metavar="NAME",
                        help="Keep this reel as OUT/reels/NAME.mp4 (with its editor files and selection), "
                             "beside OUT/reel.mp4 and other named reels.")(f)


def _split_option(f):
    return click.option("--split", is_flag=True,
                        help="Also write one file per selected segment, OUT/segments/<id>.mp4 (same render mode).")(f)


def plural(n: int, word: str, many: str | None = None) -> str:
    """"1 file", "2 files" ("1 match", "3 matches" with `many`)."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def _note(text: str) -> None:
    if not _QUIET:
        click.echo(f"note      {text}", err=True)


def _print_json(doc: dict) -> None:
    click.echo(json.dumps(doc, indent=2, ensure_ascii=False))


def _left_out_lines(sel, total: float) -> list[str]:
    """Why a reel is shorter than its target, and the candidates that scored well but did
    not fit (goals are told apart, above), from each candidate's own "left out" reason."""
    lines = []
    left = [s for s in sel.segments if not s.selected]
    full = [s for s in left if "left out: reel full" in s.reason]
    short = sel.target_s - total
    if short > 1.0:
        if not left:
            why = "every candidate is in it"
        elif not full:
            replays = sum(s.replay_of is not None for s in left)
            low = sum("below the minimum" in s.reason for s in left)
            parts = ([plural(replays, "replay") + " of moments shown"] if replays else []) + \
                    ([plural(low, "candidate") + " scoring below segments.min_score"] if low else [])
            why = "the rest are " + " and ".join(parts) if parts else "no other candidate fits"
        else:
            why = f"the next {plural(len(full), 'candidate')} would not fit in the {short:.0f} s left"
        lines.append(f"short     {short:.0f} s under the target: {why}")
    good = sorted((s for s in full if s.kind != "goal"), key=lambda s: s.rank)[:3]
    if good:
        told = ", ".join(f"{s.id} ({s.kind or 'other'}, score {s.score:.2f}, {s.duration:.0f} s)" for s in good)
        more = len([s for s in full if s.kind != "goal"]) - len(good)
        need = sel.target_s + sum(s.duration for s in good)
        lines.append(f"left out  {told}{f' and {more} more' if more > 0 else ''}: the reel is full; "
                     f"--target-duration {need:.0f} would hold {'them' if len(good) > 1 else 'it'}")
    return lines


def _summary(out: Path, sel, reel: Path | None, timings: dict, cache_hit: bool, split: list | None = None) -> None:
    from rich.table import Table

    from .types import clock

    console = _console()
    chosen = sel.selected
    table = Table(title=f"{len(chosen)} of {plural(len(sel.segments), 'candidate segment')} selected", show_lines=False)
    for col in ("id", "rank", "kind", "start", "end", "score", "reason"):
        table.add_column(col, overflow="fold")
    for s in sorted(chosen, key=lambda s: s.start):
        kind = f"{s.kind or 'other'} {s.confidence:.2f}" if s.confidence is not None else (s.kind or "other")
        table.add_row(s.id, str(s.rank), kind, clock(s.start, 2), clock(s.end, 2), f"{s.score:.2f}", s.reason)
    console.print(table)
    total = sum(s.duration for s in chosen)
    goals = [s for s in sel.segments if s.kind == "goal" and s.replay_of is None]
    if goals:
        left = [s for s in goals if not s.selected]
        told = f"goals     {len(goals)} found, {len(goals) - len(left)} in the reel"
        if left:
            need = sum((s.core[1] - s.core[0]) if s.core else s.duration for s in left)
            told += (f"; left out: {', '.join(s.id for s in left)} (the reel is full and a goal is shown whole "
                     f"or not at all: --target-duration {sel.target_s + need:.0f} would hold them)")
        console.print(told, highlight=False)
    console.print(f"reel      {total:.1f} s (target {sel.target_s:.1f} s)" + (f" -> {reel}" if reel else " (not rendered)"),
                  highlight=False)
    for line in _left_out_lines(sel, total):
        console.print(line, highlight=False)
    for n in sel.notes:
        console.print(f"note      {n}", highlight=False)
    console.print(f"outputs   {out}/report.html (review page), segments.json, timeline.csv, timeline.png, config.yaml, run.json")
    if sel.selected:
        console.print("editors   reel.otio (OpenTimelineIO), reel.edl (CMX 3600), reel.fcpxml (Final Cut Pro X), "
                      "reel.xml (Final Cut Pro 7 / Premiere), reel.srt, segments.csv (timecodes)", highlight=False)
    if split:
        console.print(f"split     {plural(len(split), 'file')} in {out}/segments/", highlight=False)
    from .run import total_seconds

    spent = total_seconds(timings)
    console.print(f"time      {spent:.1f} s" + (" (analysis from cache)" if cache_hit else ""))


def _tell(res, as_json: bool) -> None:
    """What `run` and `rescore` print: the JSON report, or the notes the selection did not
    already hold (the render's, the analysis-settings note) and the summary."""
    if as_json:
        return _print_json(res.report())
    for n in res.notes[len(res.selection.notes):]:
        _note(n)
    _summary(res.output, res.selection, res.reel, res.timings, res.cache_hit, res.split)


def _analysis_cfg(config_path, overrides, detector, weights):
    return load_cfg(config_path, overrides, {"detect.backend": detector, "detect.weights": weights})


@cli.command()
@click.argument("video", type=click.Path())
@click.option("-o", "--output", "out", type=click.Path(file_okay=False), required=True, help="Output folder.")
@_detector_option
@_cache_option
@config_options
@click.option("--force", is_flag=True, help="Write into an existing folder highlights did not create.")
def analyze(video, out, detector, weights, cache_dir, config_path, overrides, force):
    """Decode, detect, track and score VIDEO into a timeline (cached for later steps)."""
    import time as _time

    from . import run as runmod

    cfg = _analysis_cfg(config_path, overrides, detector, weights)
    t0 = _time.perf_counter()
    a = runmod.analyze_match(video, out, cfg, reporter=RichReporter(), force=force, cache_dir=cache_dir)
    out = Path(out)
    click.echo(f"timeline  {out}/timeline.csv ({len(a.timeline.t_s)} bins of {a.timeline.bin_s} s, "
               f"{len(a.timeline.columns)} signals){' from cache' if a.cache_hit else ''}")
    click.echo(f"detector  {a.detector.get('backend')} {a.detector.get('auto_reason', '')}".rstrip())
    for n in a.notes:
        click.echo(f"note      {n}")
    click.echo(f"time      {_time.perf_counter() - t0:.1f} s")


@cli.command()
@click.argument("video", type=click.Path())
@click.option("-o", "--output", "out", type=click.Path(file_okay=False), required=True, help="Output folder.")
@_target_option
@_detector_option
@click.option("--render", "render_mode", type=click.Choice(["moviepy", "copy"]), default=None,
              help="moviepy: frame-exact re-encode (default); copy: ffmpeg stream copy at keyframes, fast, not frame-exact.")
@click.option("--no-render", is_flag=True, help="Write the evidence files but no reel.")
@_split_option
@_name_option
@_json_option
@_cache_option
@config_options
@click.option("--force", is_flag=True, help="Write into an existing folder highlights did not create.")
def run(video, out, target_duration, detector, weights, render_mode, no_render, split, name, as_json, cache_dir,
        config_path, overrides, force):
    """Everything: analyze VIDEO, pick the moments, render OUT/reel.mp4 and the evidence."""
    from . import run as runmod

    # The target goes through the config (validated, and recorded in OUT/config.yaml, so
    # rescore and reruns keep it).
    cfg = load_cfg(config_path, overrides, {"detect.backend": detector, "detect.weights": weights,
                                            "segments.target_duration_s": target_duration})
    res = runmod.run_match(video, out, cfg, render=not no_render, reporter=RichReporter(), force=force,
                           cache_dir=cache_dir, render_mode=render_mode, split=split, name=name)
    _tell(res, as_json)


@cli.command()
@click.argument("out", type=click.Path(file_okay=False, exists=False))
@_target_option
@click.option("--no-render", is_flag=True, help="Rewrite the evidence files only.")
@click.option("--no-report", "report", flag_value=False, default=True,
              help="Skip timeline.png and report.html (segments.json and timeline.csv only).")
@click.option("--render", "render_mode", type=click.Choice(["moviepy", "copy"]), default=None, help="Render mode.")
@_split_option
@_name_option
@_json_option
@config_options
def rescore(out, target_duration, no_render, report, render_mode, split, name, as_json, config_path, overrides):
    """Re-select from OUT's cached timeline (new weights, target) without decoding the video."""
    from . import run as runmod

    cfg = load_cfg(_out_config(out, config_path), overrides, {"segments.target_duration_s": target_duration})
    res = runmod.rescore(out, cfg, render=not no_render, report=report, reporter=RichReporter(),
                         render_mode=render_mode, split=split, name=name)
    _tell(res, as_json)


@cli.command()
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--selection", type=click.Path(dir_okay=False, exists=True), default=None,
              help="Selection file exported by the review page ({segments: [{id} or {start, end}]}).")
@click.option("--render", "render_mode", type=click.Choice(["moviepy", "copy"]), default=None, help="Render mode.")
@_split_option
@_name_option
@_json_option
@config_options
def render(out, selection, render_mode, split, name, as_json, config_path, overrides):
    """Render OUT/reel.mp4 from OUT's selected segments, or from a selection file."""
    from . import run as runmod

    cfg = load_cfg(_out_config(out, config_path), overrides)
    res = runmod.render_selection(out, cfg, selection, reporter=RichReporter(), render_mode=render_mode, split=split,
                                  name=name)
    if as_json:
        return _print_json(res.summary())
    for n in res.notes:
        _note(n)
    console = _console()
    console.print(f"reel      {res.reel} ({res.reel_s:.1f} s, {plural(res.segments, 'segment')}, "
                  f"{res.seconds:.1f} s to render)", highlight=False)
    if res.split:
        console.print(f"split     {plural(len(res.split), 'file')} in {Path(out) / 'segments'}", highlight=False)


@cli.command(name="eval")
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--truth", type=click.Path(dir_okay=False, exists=True), required=True,
              help="Truth file: synth's *.truth.json or a labels.json ({events: [{type, time, start, end}]}).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def eval_cmd(out, truth, as_json):
    """Goal recall, chance recall, reel precision, rank of each event, top-k goal share and
    candidate kinds against TRUTH for OUT."""
    from .evaluate import evaluate_events
    from .report.files import read_segments
    from .types import clock

    doc = read_segments(Path(out))
    try:
        t = json.loads(Path(truth).read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{truth}: not valid JSON ({exc.msg})") from None
    if not isinstance(t, dict) or "events" not in t:
        raise ConfigError(f"{truth}: expected {{\"events\": [...]}}")
    res = evaluate_events(doc["segments"], t, doc["input"]["duration"])
    if as_json:
        click.echo(json.dumps(res, indent=2))
        return
    fmt = lambda v: "n/a" if v is None else f"{v:.2f}"
    top = res["top_k"]
    click.echo(f"goal_recall    {fmt(res['goal_recall'])}  ({res['goals']} goals)")
    click.echo(f"chance_recall  {fmt(res['chance_recall'])}  ({res['chances']} chances)")
    click.echo(f"precision      {fmt(res['precision'])}  (reel {res['reel_s']:.1f} s)")
    click.echo(f"top_k_goals    {fmt(top['share'])}  ({top['goals']} of the top {top['k']} candidates on a goal)")
    for e in res["events"]:
        near = (f"{e['overlap_segment']} {e['kind']}" + (f" {e['confidence']:.2f}" if e.get("confidence") is not None else "")
                if e["overlap_segment"] else "none")
        click.echo(f"  {e['type']:6s} {clock(e['time'], 2)}  {'in reel' if e['in_reel'] else 'MISSED '}  best rank {e['best_rank']}"
                   f"  overlap rank {e['overlap_rank']} ({near})")
    cols = ("goal", "chance", "other", "missed")
    click.echo("kinds (rows: truth; columns: kind of the best-ranked candidate overlapping it; none: candidates on no event)")
    click.echo("  truth   " + "".join(f"{c:>8s}" for c in cols))
    for row, counts in res["confusion"].items():
        click.echo(f"  {row:7s} " + "".join(f"{counts[c]:8d}" if c in counts else f"{'-':>8s}" for c in cols))


@cli.command()
@click.argument("video", type=click.Path())
@click.option("-o", "--output", "out", type=click.Path(file_okay=False), required=True, help="Output folder.")
@_detector_option
@click.option("--annotate", is_flag=True, help="Also write OUT/preview.mp4 with boxes, track ids and team colours.")
@config_options
@click.option("--force", is_flag=True, help="Write into an existing folder highlights did not create.")
def detect(video, out, detector, weights, annotate, config_path, overrides, force):
    """Detect and track players and ball in VIDEO: OUT/detections.parquet, OUT/tracks.parquet."""
    from . import run as runmod

    cfg = _analysis_cfg(config_path, overrides, detector, weights)
    res = runmod.detect_and_track(video, out, cfg, annotate=annotate, reporter=RichReporter(), force=force)
    d = res.detector
    click.echo(f"detector  {d.get('backend')} ({d.get('ms_per_frame')} ms/frame over {d.get('frames')} frames)")
    if d.get("auto"):
        click.echo(f"auto      {d['auto']}")
    click.echo(f"tracks    {res.tracks}")
    click.echo(f"outputs   {Path(out)}/detections.parquet, {Path(out)}/tracks.parquet")
    if annotate:
        click.echo(f"preview   {res.files[-1]}")


@cli.command(name="eval-detector")
@click.option("--frames", "frames_dir", type=click.Path(file_okay=False, exists=True), required=True,
              help="Folder with images/ and labels/ in YOLO format (data.yaml beside them, or DFL class names).")
@_detector_option
@click.option("--tile/--no-tile", default=None, help="Tiled YOLO inference at native resolution (default from config).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Only the first N frames.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@config_options
def eval_detector_cmd(frames_dir, detector, weights, tile, limit, as_json, config_path, overrides):
    """Person and ball recall/precision of a detector on labelled frames, and ms per frame."""
    from .detect import get_detector
    from .evaluate import eval_detector

    cfg = _analysis_cfg(config_path, overrides, detector, weights)
    if tile is not None:
        from .config import with_updates

        cfg = with_updates(cfg, **{"detect.tile": tile})
    det = get_detector(cfg.detect, grass=cfg.pitch.grass)
    with progress("frames", None) as update:
        res = eval_detector(frames_dir, det, limit=limit, progress=lambda i: update(i))
    if as_json:
        click.echo(json.dumps(res, indent=2))
        return
    for k in ("person", "ball"):
        r = res[k]
        fmt = lambda v: "n/a" if v is None else f"{v:.3f}"
        click.echo(f"{k:7s} recall {fmt(r['recall'])}  precision {fmt(r['precision'])}  (n={r['n']})")
    click.echo(f"speed   {res['ms_per_frame']:.0f} ms/frame over {res['frames']} frames")


@cli.command()
@click.argument("video", type=click.Path())
@_detector_option
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@config_options
def bench(video, detector, weights, as_json, config_path, overrides):
    """Measure analysis throughput on VIDEO against ffmpeg's own decode of it (one run)."""
    from . import bench as benchmod

    cfg = _analysis_cfg(config_path, overrides, detector, weights)
    res = benchmod.bench(video, cfg, reporter=None if as_json else RichReporter())
    if as_json:
        click.echo(json.dumps(res, indent=2))
        return
    click.echo(f"input          {res['input']} ({res['duration_s']:.0f} s, {res['size'][0]}x{res['size'][1]} @ {res['fps']:.2f} fps)")
    click.echo(f"ffmpeg decode  {res['decode_fps']:.0f} fps (every frame, -f null)")
    click.echo(f"analysis       {res['analysis_fps']:.0f} source fps in {res['analysis_s']:.1f} s ({res['detector']})")
    click.echo(f"ratio          {res['ratio_vs_decode']:.2f} x ffmpeg decode, {res['x_realtime']:.1f} x real time")
    click.echo(f"peak memory    {res['peak_rss_mb']:.0f} MB")
    click.echo("stages         " + ", ".join(f"{k} {v:.1f} s" for k, v in res["stages"].items()))
    for n in res["notes"]:
        click.echo(f"note           {n}")


@cli.command()
@click.argument("inputs", nargs=-1, type=click.Path())
@click.option("--manifest", type=click.Path(dir_okay=False), default=None,
              help="Inputs from a file: one path per line (whole-line # comments; relative to the manifest) or a JSON list of paths.")
@click.option("-o", "--output", "out", type=click.Path(file_okay=False), required=True,
              help="Output folder: one subfolder per match, and batch.json.")
@click.option("--engine", type=click.Choice(["local", "ray"]), default=None,
              help="local: processes on this machine; ray: a Ray cluster (default: batch.engine).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Matches at once (default: local 1, ray as many as the cluster's CPUs/GPUs allow).")
@click.option("--address", default=None,
              help="Ray cluster to join (auto: the one this machine belongs to); none starts a local Ray.")
@click.option("--gpus-per-job", type=click.FloatRange(min=0), default=None,
              help="Ray: GPUs each match holds (0.5 = two matches per GPU).")
@click.option("--cpus-per-job", type=click.FloatRange(min=0.01), default=None, help="Ray: CPUs each match holds.")
@_target_option
@_detector_option
@click.option("--no-render", is_flag=True, help="Write the evidence files but no reels.")
@_json_option
@config_options
@click.option("--force", is_flag=True, help="Write into existing folders highlights did not create.")
def batch(inputs, manifest, out, engine, workers, address, gpus_per_job, cpus_per_job, target_duration, detector, weights,
          no_render, as_json, config_path, overrides, force):
    """Many matches: OUT/<match>/ for each input, OUT/batch.json; re-running resumes.

    \b
    Matches already complete with the same input and config are skipped; a failed or
    interrupted one is redone. Exit code: 0 when every match is done or skipped, else
    the code of the first failed match (see docs/batch.md).
    """
    from . import batch as batchmod

    cfg = load_cfg(config_path, overrides, {"detect.backend": detector, "detect.weights": weights,
                                            "segments.target_duration_s": target_duration})
    given = {"engine": engine, "workers": workers, "address": address, "gpus_per_job": gpus_per_job,
             "cpus_per_job": cpus_per_job}
    updates = {k: v for k, v in given.items() if v is not None}
    from .config import with_updates

    cfg = with_updates(cfg, **{f"batch.{k}": v for k, v in updates.items()})
    if cfg.batch.engine != "ray" and (address or gpus_per_job or cpus_per_job):
        raise ConfigError("--address, --gpus-per-job and --cpus-per-job need --engine ray")
    jobs = batchmod.plan_jobs(batchmod.collect_inputs(inputs, manifest), out)
    options = batchmod.JobOptions(render=not no_render, force=force)  # the target rides in cfg
    console = _console()
    counts = {"done": 0, "skipped": 0, "failed": 0}
    with progress("matches", float(len(jobs))) as update:
        def on_result(res: dict) -> None:
            counts[res["status"]] += 1
            update(float(sum(counts.values())))
            if res["status"] == "failed":
                console.print(f"failed    {Path(res['output']).name}: {res['error']}", highlight=False)

        result = batchmod.run_batch(jobs, out, cfg, options, on_result=on_result)
    if as_json:
        _print_json(batchmod.batch_document(result.matches) | {
            "counts": counts, "seconds": round(result.seconds, 3), "exit_code": result.exit_code})
        return result.exit_code
    console.print(f"matches   {len(jobs)}: {counts['done']} done, {counts['skipped']} skipped "
                  f"(already complete), {counts['failed']} failed", highlight=False)
    for m in result.failed:
        console.print(f"  failed  {Path(m['output']).name} (exit {m['exit_code']}): {m['error']}", highlight=False)
    console.print(f"outputs   {Path(out) / batchmod.BATCH_FILE}; one folder per match under {out}", highlight=False)
    console.print(f"time      {result.seconds:.1f} s", highlight=False)
    return result.exit_code


@cli.command()
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--truth", type=click.Path(dir_okay=False, exists=True), default=None,
              help="Truth file (synth's *.truth.json or a labels.json) whose events are marked on the timeline.")
def report(out, truth):
    """Rewrite OUT/timeline.png and OUT/report.html from OUT's analysis and segments.json."""
    from . import run as runmod
    from .outputs import open_output_dir

    paths = runmod.write_reports(open_output_dir(Path(out)), truth=truth, reporter=RichReporter())
    click.echo(f"plot      {paths['timeline_png']}")
    click.echo(f"report    {paths['report_html']} (open it in a browser; it plays the source video)")


def _terminate(signum, frame) -> None:
    """SIGTERM (a scheduler, `kill`, a container stopping) takes the Ctrl-C path: temp files
    are removed, nothing half-written is left looking complete, exit 130."""
    raise KeyboardInterrupt


@cli.command(name="train-detector")
@click.option("--data", "data", type=click.Path(file_okay=False, exists=True), required=True,
              help="Training frames: a YOLO-format folder (images/, labels/).")
@click.option("--val", "val", type=click.Path(file_okay=False, exists=True), required=True,
              help="Validation frames from other matches than --data (frames of one match look alike).")
@click.option("--weights", required=True, help="Float ultralytics checkpoint (.pt) to start from.")
@click.option("-o", "--output", "out", type=click.Path(file_okay=False), required=True,
              help="Folder for the run; the checkpoint is OUT/NAME.pt.")
@click.option("--names", default=None, help="Class names by id, comma-separated (default: data.yaml's names).")
@click.option("--keep-classes", is_flag=True,
              help="Train in the base model's classes (players, keepers, referees as person; ball as sports ball): "
                   "a better start than a new head with few frames.")
@click.option("--epochs", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--imgsz", type=click.IntRange(min=64, max=4096), default=960, show_default=True)
@click.option("--batch", type=click.IntRange(min=1), default=4, show_default=True)
@click.option("--device", default="cpu", show_default=True, help="cpu, cuda:0, ...")
@click.option("--name", default="finetuned", show_default=True, help="Name of the checkpoint written.")
@click.option("--freeze", type=click.IntRange(min=0), default=0, show_default=True,
              help="Keep the first N layers as they are (10: the whole backbone).")
@click.option("--lr0", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Starting learning rate (AdamW); default: ultralytics' own choice.")
@_json_option
def train_detector_cmd(data, val, weights, out, names, keep_classes, epochs, imgsz, batch, device, name, freeze, lr0,
                       as_json):
    """Fine-tune a YOLO checkpoint on your own labelled frames (ultralytics train, offline), and
    print eval-detector figures on the validation frames before and after."""
    from .detect.train import train_detector

    if not _QUIET:
        click.echo(f"training {weights} on {data} for {plural(epochs, 'epoch')} at {imgsz} px ...", err=True)
    res = train_detector(data, val, weights, out, names=names.split(",") if names else None, epochs=epochs,
                         imgsz=imgsz, batch=batch, device=device, name=name, keep_classes=keep_classes,
                         freeze=freeze, lr0=lr0)
    if as_json:
        return _print_json(res.summary())

    def fmt(x):
        return "n/a" if x is None else f"{x:.3f}"

    for label, r in (("before", res.before), ("after", res.after)):
        click.echo(f"{label:7s} person recall {fmt(r['person']['recall'])} precision {fmt(r['person']['precision'])}  "
                   f"ball recall {fmt(r['ball']['recall'])} precision {fmt(r['ball']['precision'])}  "
                   f"({r['ms_per_frame']:.0f} ms/frame, {r['frames']} frames)")
    click.echo(f"weights {res.weights} ({res.seconds:.0f} s of training): use it with --weights {res.weights}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
@config_options
def doctor(as_json, config_path, overrides):
    """What this machine gives the pipeline: versions, ffmpeg, ONNX Runtime providers, torch and
    CUDA, NVDEC/NVENC, Chromium, Ray, and the weights the detector would use and why."""
    from . import doctor as doc

    checks = doc.run_checks(load_cfg(config_path, overrides))
    if as_json:
        _print_json({"checks": [c.to_dict() for c in checks], "exit_code": doc.exit_code(checks)})
        return doc.exit_code(checks)
    mark = {doc.OK: "ok  ", doc.WARN: "warn", doc.FAIL: "FAIL"}
    for c in checks:
        click.echo(f"{mark[c.status]}  {c.name:<22} {c.detail}")
    return doc.exit_code(checks)


def main(argv: list[str] | None = None) -> int:
    """Entry point: maps every failure onto the documented exit codes."""
    import signal
    import threading

    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main else None
    try:
        return _main(argv)
    finally:
        from .outputs import release_output_dir

        release_output_dir()
        if in_main:
            signal.signal(signal.SIGTERM, previous)


def _main(argv: list[str] | None) -> int:
    try:
        argv = hoist_global_flags(list(sys.argv[1:] if argv is None else argv))
        rv = cli.main(args=argv, prog_name="highlights", standalone_mode=False)
        return rv if isinstance(rv, int) else 0
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:
        _err("interrupted")
        return 130
    except click.ClickException as exc:
        exc.show()
        return 2
    except PipelineError as exc:
        if _DEBUG:
            logging.exception("failed")
        _err(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except BrokenPipeError as exc:
        if _stdout_is_broken():
            return 0  # the reader of our output went away: not a failure of the run
        if _DEBUG:
            raise
        _err(f"unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)")
        return 1
    except Exception as exc:  # an unexpected failure: one line unless --debug
        if _DEBUG:
            raise
        _err(f"unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)")
        return 1


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
