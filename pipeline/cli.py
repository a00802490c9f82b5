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


def _err(msg: str) -> None:
    click.echo(f"error: {msg}", err=True)


@contextmanager
def progress(description: str, total: float | None = None):
    """A rich progress bar with ETA on stderr; yields an `update(completed)` callable."""
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    with Progress(
        TextColumn("[bold]{task.description:<10}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        transient=False,
        console=_console(),
    ) as bar:
        task = bar.add_task(description, total=total)

        def update(completed: float, total_: float | None = None) -> None:
            bar.update(task, completed=completed, total=total_ if total_ is not None else bar.tasks[task].total)

        yield update
        t = bar.tasks[task]
        if t.total is not None:
            bar.update(task, completed=t.total)


def _console():
    from rich.console import Console

    return Console(stderr=True)


def config_options(f):
    f = click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE",
                     help="Override one config value (repeatable), e.g. --set weights.audio=0.7.")(f)
    f = click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
                     help="YAML file with the values that differ from configs/default.yaml.")(f)
    return f


def load_cfg(config_path, overrides, extra: dict | None = None):
    from .config import load_config

    sets = list(overrides)
    for key, value in (extra or {}).items():
        if value is not None:
            sets.append(f"{key}={value}")
    return load_config(config_path, sets)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.version_option(package_name="football-highlights", prog_name="highlights")
def cli(debug: bool) -> None:
    """Football highlights: match footage in, a highlight reel and its evidence out.

    \b
    Typical use:
      highlights synth -o samples/match.mp4 --duration 120 --seed 1
      highlights probe samples/match.mp4
    """
    global _DEBUG
    _DEBUG = debug
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


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
    if info.has_video:
        rate = f"{info.fps:.3f} fps" + (" (variable)" if info.vfr else "")
        rot = f", rotated {info.rotation} deg" if info.rotation else ""
        click.echo(f"  video      {info.codec} {info.width}x{info.height}{rot}, {rate}, B-frames: {'yes' if info.has_b_frames else 'no'}")
    else:
        click.echo("  video      none")
    if info.audio:
        for a in info.audio:
            click.echo(f"  audio      {a.codec} {a.channels} ch {a.sample_rate} Hz")
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
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
def synth(output: str, duration: float, seed: int, size: str, fps: float, force: bool) -> None:
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
        truth = synth_mod.generate(out, duration_s=duration, seed=seed, size=(w, h), fps=fps, progress=update)
    goals = sum(e["type"] == "goal" for e in truth["events"])
    chances = sum(e["type"] == "chance" for e in truth["events"])
    click.echo(f"wrote {out} ({duration:.0f} s, {w}x{h}, {goals} goals, {chances} chances)")
    click.echo(f"truth {synth_mod.truth_path_for(out)}")


def main(argv: list[str] | None = None) -> int:
    """Entry point: maps every failure onto the documented exit codes."""
    try:
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
    except BrokenPipeError:
        return 0
    except Exception as exc:  # an unexpected failure: one line unless --debug
        if _DEBUG:
            raise
        _err(f"unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)")
        return 1


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
