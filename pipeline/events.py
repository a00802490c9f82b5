"""Event kinds: is a candidate moment a goal, a chance, or other play?

Takes the candidate segments and the timeline; gives each segment a `kind` ("goal",
"chance", "other"), a `confidence` (0-1) and the evidence behind it, read from what a goal
leaves in a broadcast rather than from how loud the moment is:

- the score bug changes (one team's number goes up), when the score overlay was read;
- play does not restart: after the moment come close-ups and off-pitch pictures (players,
  bench, crowd) for tens of seconds instead of a wide shot of play; the crowd and
  the bench on screen count again on their own (broadcasters show them after goals, rarely
  after a miss);
- a replay package follows;
- the crowd roars for seconds (not a shout), the commentator's cry is sustained; both as
  z-scores against the match's own baseline, so a loud crowd all match long is no evidence.

Each piece of evidence is scaled to [0, `cap`] of its own unit and weighed in a logistic
sum; the weights and units live in `pipeline/configs/default.yaml` (`events:`). Pure functions over
the timeline: no file reading, no printing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .config import EventsConfig
from .segments import replay_mask
from .signals.shots import CLOSE, OFF_PITCH, WIDE
from .types import Segment, Timeline, clock



@dataclass
class Evidence:
    """What the broadcast shows around one moment, in the units a reviewer reads."""

    moment_s: float  # where the moment turned on (the audio rose), else its peak
    score_change: dict | None = None  # {"t_s", "score_from", "score_to", "team"} read from the score bug
    replay_s: float = 0.0  # length of the replay package that follows the moment (0: none)
    reaction_s: float = 0.0  # seconds of close-up / off-pitch pictures in the reaction window
    crowd_s: float = 0.0  # of which off-pitch pictures (crowd, bench: almost no grass in view)
    no_play_s: float = 0.0  # seconds from the moment until play restarts (a sustained wide shot)
    roar_s: float = 0.0  # longest run of sustained crowd roar around the moment
    sound_from_s: float | None = None  # where the first sustained roar or cry starts (the ball went in 0-3 s before)
    roar_db: float = 0.0  # its top, dB over the match's roar baseline
    voice_s: float = 0.0  # longest run of the commentator's raised pitch
    voice_st: float = 0.0  # its top, semitones over the match's baseline
    seen_s: float = 0.0  # how much footage after the moment there was to look at
    terms: dict[str, float] = field(default_factory=dict)  # each term's contribution to the logit

    def phrases(self) -> list[str]:
        """The evidence as text, strongest kinds of evidence first."""
        out = []
        if self.score_change:
            c = self.score_change
            out.append(f"score {c['score_from']} -> {c['score_to']} at {clock(c['t_s'])}")
        if self.replay_s > 0:
            out.append(f"replay package {self.replay_s:.0f} s")
        if self.reaction_s >= 1.0:
            out.append(f"celebration/reaction close-ups {self.reaction_s:.0f} s"
                       + (f" ({self.crowd_s:.0f} s of crowd and bench)" if self.crowd_s >= 1.0 else ""))
        if self.no_play_s >= 1.0:
            out.append(f"no play for {self.no_play_s:.0f} s after it" + (" (to the end of the footage)"
                                                                        if self.no_play_s >= self.seen_s - 0.5 else ""))
        if self.roar_s >= 1.0:
            out.append(f"sustained crowd roar +{self.roar_db:.0f} dB for {self.roar_s:.0f} s")
        if self.voice_s >= 1.0:
            out.append(f"sustained commentator's cry +{self.voice_st:.0f} semitones for {self.voice_s:.0f} s")
        return out


def _longest(mask: np.ndarray) -> tuple[int, int]:
    """(first index, length) of the longest run of True; (0, 0) when there is none."""
    if not mask.any():
        return 0, 0
    edges = np.flatnonzero(np.diff(np.r_[0, mask.astype(np.int8), 0]))
    k = int(np.argmax(edges[1::2] - edges[::2]))
    return int(edges[2 * k]), int(edges[2 * k + 1] - edges[2 * k])


def _bins(t0: float, t1: float, bin_s: float, n: int) -> slice:
    return slice(max(int(t0 // bin_s), 0), min(max(int(math.ceil(t1 / bin_s)), 0), n))


def gather(seg: Segment, timeline: Timeline, cfg: EventsConfig, score_changes: list[dict] | None = None,
           replays: list[tuple[float, float]] | None = None) -> Evidence:
    """The evidence around `seg`'s moment (see the module docstring). `replays`: the replay
    packages that show this moment (default: any starting within `replay_within_s` after it)."""
    bin_s = timeline.bin_s
    n = len(timeline.t_s)
    duration = timeline.duration_s
    moment = seg.moment
    ev = Evidence(moment_s=moment, seen_s=max(duration - moment, 0.0))
    raw = timeline.raw

    # Sound: sustained runs of roar and raised voice, around the moment.
    around = _bins(moment - cfg.sound_before_s, moment + cfg.sound_after_s, bin_s, n)
    for col, attr, unit_attr in (("audio_roar", "roar_s", "roar_db"), ("audio_voice", "voice_s", "voice_st")):
        z = timeline.columns.get(col)
        if z is None:
            continue
        w = np.nan_to_num(np.asarray(z, float)[around], nan=-np.inf)
        first, length = _longest(w >= cfg.sustain_z)
        setattr(ev, attr, length * bin_s)
        if length:
            at = float((around.start + first) * bin_s)
            ev.sound_from_s = at if ev.sound_from_s is None else min(ev.sound_from_s, at)
        if col in raw and getattr(ev, attr) > 0:
            r = np.asarray(raw[col], float)[around]
            setattr(ev, unit_attr, float(np.nanmax(r[w >= cfg.sustain_z])))

    # Pictures: close-ups and off-pitch shots after the moment (the crowd and the bench
    # among them), and how long until play restarts (a wide shot held for
    # `restart_wide_s`). Replays are not play. (A wide shot with no players tracked is not
    # told apart: the tracker also loses players in fast pans of real play, and outside the
    # two-pass windows there is no tracking at all.)
    scale = timeline.columns.get("shots_scale")
    if scale is not None:
        replay = replay_mask(timeline)
        after = _bins(moment + cfg.reaction_delay_s, moment + cfg.reaction_window_s, bin_s, n)
        sc = np.nan_to_num(np.asarray(scale, float)[after], nan=0.0)
        ev.reaction_s = float(np.sum(sc >= CLOSE)) * bin_s
        ev.crowd_s = float(np.sum((sc >= OFF_PITCH) & ~replay[after])) * bin_s
        look = _bins(moment + cfg.reaction_delay_s, moment + cfg.no_play_max_s, bin_s, n)
        wide = (np.nan_to_num(np.asarray(scale, float)[look], nan=-1) == WIDE) & ~replay[look]
        need = max(int(round(cfg.restart_wide_s / bin_s)), 1)
        run, restart = 0, None
        for i, w in enumerate(wide):
            run = run + 1 if w else 0
            if run >= need:
                restart = i - need + 1
                break
        span = len(wide) if restart is None else restart
        ev.no_play_s = float(span) * bin_s + (cfg.reaction_delay_s if span else 0.0)
        ev.no_play_s = min(ev.no_play_s, ev.seen_s)

    # A replay package starting after the moment, within the window.
    spans = replays if replays is not None else timeline.replays
    for a, b in spans:
        if moment < float(a) <= moment + cfg.replay_within_s:
            ev.replay_s = float(b) - float(a)
            break

    # The score bug: a change read after the moment (broadcasters update it seconds to a
    # minute later, often after the replays), or just before it.
    for c in score_changes or []:
        if moment - cfg.score_before_s <= float(c["t_s"]) <= moment + cfg.score_after_s:
            ev.score_change = dict(c)
            break
    return ev


def confidence(ev: Evidence, cfg: EventsConfig) -> float:
    """P(goal) from the evidence: a logistic sum of capped, unit-scaled terms."""
    terms = {
        "score_change": cfg.w_score_change * (1.0 if ev.score_change else 0.0),
        "replay": cfg.w_replay * min(ev.replay_s / cfg.replay_unit_s, cfg.cap),
        "reaction": cfg.w_reaction * min(ev.reaction_s / cfg.reaction_unit_s, cfg.cap),
        "crowd": cfg.w_crowd * min(ev.crowd_s / cfg.reaction_unit_s, cfg.cap),
        "no_play": cfg.w_no_play * min(ev.no_play_s / cfg.no_play_unit_s, cfg.cap),
        "roar": cfg.w_roar * min(ev.roar_s / cfg.sound_unit_s, cfg.cap),
        "voice": cfg.w_voice * min(ev.voice_s / cfg.sound_unit_s, cfg.cap),
    }
    ev.terms = {k: round(v, 3) for k, v in terms.items()}
    return 1.0 / (1.0 + math.exp(-(sum(terms.values()) + cfg.bias)))


def kind_of(p_goal: float, ev: Evidence, cfg: EventsConfig) -> str:
    if p_goal >= cfg.goal_min_confidence:
        return "goal"
    # A chance: the crowd or the commentator rose with it, or it was replayed, yet play went on.
    if ev.roar_s >= cfg.chance_min_sound_s or ev.voice_s >= cfg.chance_min_sound_s or ev.replay_s > 0:
        return "chance"
    return "other"


def reaction_began(timeline: Timeline, t_s: float) -> float | None:
    """Where the run of close-up / off-pitch pictures (not a replay) holding `t_s` began;
    None when `t_s` is not inside one. A goal is shown on a wide or medium shot of play
    and the broadcast cuts to the players' faces, the bench and the crowd after it, so a
    goal's moment found inside its celebration belongs at the cut that opened it."""
    scale = timeline.columns.get("shots_scale")
    if scale is None:
        return None
    n = len(timeline.t_s)
    sc = np.nan_to_num(np.asarray(scale, float), nan=-1.0)
    reaction = (sc >= CLOSE) & ~replay_mask(timeline)
    i = min(max(int(t_s // timeline.bin_s), 0), n - 1)
    if n == 0 or not reaction[i]:
        return None
    while i > 0 and reaction[i - 1]:
        i -= 1
    return float(timeline.t_s[i])


def classify(segments: list[Segment], timeline: Timeline, cfg: EventsConfig,
             score_changes: list[dict] | None = None) -> dict[str, Evidence]:
    """Set `kind` and `confidence` on every segment; returns the evidence by segment id.

    `confidence` is the confidence in the kind given: P(goal) for a goal, 1 - P(goal) for
    the others. A replay segment takes the kind of the moment it replays. A score change is
    evidence for one moment only: among those it follows (within `score_after_s`), the one
    whose other evidence looks most like a goal (the latest, on a tie).
    """
    evidence: dict[str, Evidence] = {}
    live = [s for s in segments if s.replay_of is None]
    # A replay package shows the last moment before it (within `replay_within_s`), not
    # every moment of the minute before it.
    moments = sorted(live, key=lambda s: s.moment)
    shown_by: dict[int, list[tuple[float, float]]] = {}
    for a, b in timeline.replays:
        before = [s for s in moments if s.moment < float(a)]
        if before and float(a) - before[-1].moment <= cfg.replay_within_s:
            shown_by.setdefault(id(before[-1]), []).append((float(a), float(b)))
    # The evidence without the score bug first: a score change says a goal happened in
    # the minute before it, and it belongs to one moment there, never to every moment it
    # follows.
    plain = {id(s): gather(s, timeline, cfg, [], shown_by.get(id(s), [])) for s in live}
    p_plain = {k: confidence(ev, cfg) for k, ev in plain.items()}
    owner: dict[int, dict] = {}
    for c in score_changes or []:
        t = float(c["t_s"])
        near = [s for s in live if s.moment - cfg.score_before_s <= t <= s.moment + cfg.score_after_s
                and id(s) not in owner]
        if near:
            owner[id(max(near, key=lambda s: (round(p_plain[id(s)], 3), s.moment)))] = c
    for s in live:
        if id(s) in owner:
            ev = gather(s, timeline, cfg, [owner[id(s)]], shown_by.get(id(s), []))
            p = confidence(ev, cfg)
        else:
            ev, p = plain[id(s)], p_plain[id(s)]
        s.kind = kind_of(p, ev, cfg)
        s.confidence = round(p if s.kind == "goal" else 1.0 - p, 3)
        if s.kind == "goal":
            if ev.sound_from_s is not None and ev.sound_from_s > s.moment:
                s.anchor = ev.sound_from_s  # the goal's moment: where the sustained roar or cry began
            began = reaction_began(timeline, s.moment)
            if began is not None:
                # The ball went in before the celebration pictures began: the evidence is
                # what follows that moment.
                found, s.anchor = s.anchor, began
                ev2 = gather(s, timeline, cfg, [owner[id(s)]] if id(s) in owner else [], shown_by.get(id(s), []))
                p2 = confidence(ev2, cfg)
                if kind_of(p2, ev2, cfg) == "goal":
                    ev, p = ev2, p2
                    s.confidence = round(p, 3)
                else:
                    s.anchor = found
        evidence[s.id] = ev
    by_id = {s.id: s for s in segments}
    for s in segments:
        if s.replay_of is not None:
            shown = by_id.get(s.replay_of)
            s.kind = shown.kind if shown is not None else "other"
            s.confidence = shown.confidence if shown is not None else 0.5
    return evidence
