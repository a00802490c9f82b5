"""Synthetic matches with ground truth: test, demo and benchmark material.

`generate(out, duration_s, seed, size)` writes an h264 + aac broadcast-like match (striped
pitch, two kits, referee, ball, a camera that pans and zooms, score overlay, cuts to a
close-up after goals, replays behind a wipe) and `<stem>.truth.json` with the events.
The pipeline never reads the truth file except in evaluation.

The score overlay (top left, "HOM 0-0 AWY  12:00", drawn on every frame: live, close-up,
wipe and replay) shows the new score from a goal's truth `time` + 0.5 s (SCOREBUG_DELAY_S:
the simulation counts the goal once the ball is in), and a match clock that starts at
12:00 and runs with the video (clock = 720 s + t). `scorebug=False` draws no overlay.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import av
import cv2
import numpy as np
from scipy import signal as sps

from .errors import OutputError
from .outputs import write_text

PITCH_L, PITCH_W = 105.0, 68.0
PX_PER_M = 16  # world raster resolution
MARGIN_X, MARGIN_TOP, MARGIN_BOTTOM = 10.0, 16.0, 8.0
AUDIO_SR = 44100
SCOREBUG_DELAY_S = 0.5  # the overlay shows a goal this long after its truth `time` (see simulate)
SCOREBUG_CLOCK_START_S = 720.0  # the overlay's clock reads 12:00 at t = 0
GENERATOR_VERSION = 1

# Kit palettes (BGR shirt, BGR shorts), none of them green so the pitch stays separable.
KITS = [
    ((40, 40, 210), (245, 245, 245)),  # red / white
    ((235, 235, 235), (60, 30, 20)),  # white / navy
    ((200, 120, 30), (255, 255, 255)),  # blue / white
    ((30, 200, 250), (30, 30, 30)),  # yellow / black
    ((120, 40, 120), (240, 240, 240)),  # purple / white
    ((20, 110, 240), (20, 20, 20)),  # orange / black
]
REFEREE_KIT = ((25, 25, 25), (25, 25, 25))
KEEPER_KITS = [((60, 230, 230), (40, 40, 40)), ((200, 200, 60), (40, 40, 40))]
# Formation (x from own goal line as a fraction of pitch length, y as a fraction of width).
FORMATION = np.array(
    [[0.04, 0.5], [0.2, 0.15], [0.18, 0.38], [0.18, 0.62], [0.2, 0.85],
     [0.38, 0.2], [0.34, 0.5], [0.38, 0.8], [0.55, 0.18], [0.58, 0.5], [0.55, 0.82]]
)


@dataclass(frozen=True)
class Event:
    type: str  # goal | chance
    time: float  # ball crosses the line (goal) or the shot (chance)
    start: float  # start of the attack
    end: float  # end of the celebration or of play
    team: int  # attacking team (0 attacks x = 105, 1 attacks x = 0)


def plan_events(duration_s: float, rng: np.random.Generator, calm_s: float = 60.0) -> list[Event]:
    """Attacks spread over the match, the first a goal when it fits.

    Between one attack's aftermath and the next attack's build-up lie 0.3-1x `calm_s`
    seconds of calm play: the default 60 gives an attack about every 50 s (dense test
    material); ~300 is closer to a real match, where a shot comes every few minutes.
    Short clips still get their goal: the first one comes at ~45% of a clip under 30 s,
    and a goal needs only 6 s after it (roar and the cut to the close-up) to be planned.
    """
    events: list[Event] = []
    t = float(min(rng.uniform(8.0, 14.0), max(0.45 * duration_s, 3.5)))
    while True:
        attack = float(rng.uniform(6.0, 9.0))
        kind = "goal" if (not events or rng.random() < 0.4) else "chance"
        needed = 6.0 if kind == "goal" else 3.5
        if t + needed > duration_s:
            break
        start = max(t - attack, 0.5)
        end = min(t + (8.0 if kind == "goal" else 3.5), duration_s)
        events.append(Event(kind, round(t, 2), round(start, 2), round(end, 2), int(rng.integers(0, 2))))
        tail = 16.0 if kind == "goal" else 4.0  # goal: roar, close-up, replay, kickoff
        t = t + tail + float(rng.uniform(0.3 * calm_s, calm_s))
    return events


# ----------------------------------------------------------------------------- simulation


@dataclass
class Sim:
    """Positions per video frame (metres), camera per frame, shot kind per frame."""

    players: np.ndarray  # (F, 23, 2): 0-10 team 0, 11-21 team 1, 22 referee
    ball: np.ndarray  # (F, 2)
    cam: np.ndarray  # (F, 3): centre x, centre y, view width (m)
    shot: np.ndarray  # (F,) 0 wide, 1 close-up, 2 wipe, 3 replay
    src: np.ndarray  # (F,) frame whose world state is shown (differs in replays)
    score: np.ndarray  # (F, 2)
    scorer_team: np.ndarray  # (F,) team of the close-up figure


def _formation_targets(team: int, ball: np.ndarray, push: float) -> np.ndarray:
    f = FORMATION.copy()
    x = 12.0 + f[:, 0] * PITCH_L * 0.55 + push
    if team == 1:
        x = PITCH_L - x
    y = PITCH_W / 2 + (f[:, 1] - 0.5) * PITCH_W * 0.6
    # Shift the compact block towards the ball, keepers stay home.
    shift_x = (ball[0] - PITCH_L / 2) * 0.7
    shift_y = (ball[1] - PITCH_W / 2) * 0.3
    x = x + shift_x * np.r_[0.1, np.ones(10)]
    y = y + shift_y * np.r_[0.3, np.ones(10)]
    return np.stack([np.clip(x, 1, PITCH_L - 1), np.clip(y, 1, PITCH_W - 1)], 1)


def simulate(duration_s: float, fps: float, events: list[Event], rng: np.random.Generator) -> tuple[Sim, list[float], list[dict]]:
    n = int(round(duration_s * fps))
    dt = 1.0 / fps
    players = np.zeros((n, 23, 2))
    ball = np.zeros((n, 2))
    cam = np.zeros((n, 3))
    shot = np.zeros(n, np.int8)
    src = np.arange(n)
    score = np.zeros((n, 2), np.int16)
    scorer_team = np.zeros(n, np.int8)
    cuts: list[float] = []
    replays: list[dict] = []

    pos = np.concatenate([_formation_targets(0, np.array([52.5, 34]), 0), _formation_targets(1, np.array([52.5, 34]), 0), [[52.5, 30.0]]])
    pos += rng.normal(0, 1.0, pos.shape)
    b = np.array([52.5, 34.0])
    bvel = np.zeros(2)
    shot_from = None
    owner = 9  # player index holding the ball, -1 in flight
    pass_target = -1
    next_pass = 2.0
    possession = 0
    goals = [0, 0]
    cam_c = np.array([52.5, 34.0])
    cam_w = 52.0
    ev_i = 0
    # Per-frame phase lookups.
    celebrate_until = -1.0
    for i in range(n):
        t = i * dt
        ev = events[ev_i] if ev_i < len(events) else None
        in_attack = ev is not None and ev.start <= t < ev.time + 0.5
        attack_goal_x = (PITCH_L if ev and ev.team == 0 else 0.0) if ev else 0.0
        sprint = np.full(23, 3.0)
        if in_attack:
            team = ev.team
            possession = team
            att = slice(0, 11) if team == 0 else slice(11, 22)
            dfn = slice(11, 22) if team == 0 else slice(0, 11)
            direction = 1.0 if team == 0 else -1.0
            shoot_spot = np.array([attack_goal_x - direction * 17.0, 34.0 + 9.0 * math.sin(ev.time)])
            shot_speed = 24.0
            t_shot = ev.time - np.linalg.norm(shoot_spot - [attack_goal_x, 34.0]) / shot_speed
            if t < t_shot:
                # Carry/pass the ball towards the shooting spot, arriving at t_shot.
                remain = max(t_shot - t, dt)
                vel = (shoot_spot - b) / remain
                sp = np.linalg.norm(vel)
                if sp > 18.0:
                    vel *= 18.0 / sp
                b = b + vel * dt
                owner = -1
                shot_from = None
            else:
                if shot_from is None:
                    shot_from = b.copy()
                # The ball crosses the goal line (goal) or flies past the post (chance) at ev.time.
                if ev.type == "goal":
                    aim = np.array([attack_goal_x, 34.0 + 2.0 * math.cos(ev.time)])
                else:
                    aim = np.array([attack_goal_x, 34.0 + (6.0 if math.cos(ev.time) > 0 else -6.0)])
                frac = (t - t_shot) / max(ev.time - t_shot, dt)
                b = shot_from + (aim - shot_from) * frac
                if (direction > 0 and b[0] > PITCH_L + 1.5) or (direction < 0 and b[0] < -1.5):
                    b = np.array([PITCH_L + 1.5 if direction > 0 else -1.5, b[1]])
            targets = np.concatenate([_formation_targets(0, b, 12.0 if team == 0 else -6.0), _formation_targets(1, b, 12.0 if team == 1 else -6.0), [b + [0, -8.0]]])
            # Attackers sprint ahead of the ball, defenders race back towards goal.
            targets[att, 0] = np.clip(targets[att, 0] + direction * 10.0, 1, PITCH_L - 1)
            targets[dfn, 0] = np.clip((targets[dfn, 0] + attack_goal_x) / 2, 1, PITCH_L - 1)
            sprint[:] = 4.0
            sprint[att] = 8.0
            sprint[dfn] = 7.5
            nearest = int(np.argmin(np.linalg.norm(pos[att] - b, axis=1))) + att.start
            targets[nearest] = b - [direction * 0.6, 0]
            sprint[nearest] = 9.0
        else:
            if ev is not None and t >= ev.time + 0.5:
                # Event over: score, celebration, kickoff.
                if ev.type == "goal":
                    goals[ev.team] += 1
                    celebrate_until = ev.time + 13.0
                    b = np.array([52.5, 34.0])
                    owner = 9 if ev.team == 1 else 20
                    possession = 1 - ev.team
                ev_i += 1
                next_pass = t + 1.5
            # Calm phase: the side in possession passes the ball around.
            team_sl = slice(0, 11) if possession == 0 else slice(11, 22)
            if owner >= 0:
                b = pos[owner] + [0.7 if possession == 0 else -0.7, 0.0]
                if t >= next_pass:
                    cand = np.arange(team_sl.start, team_sl.stop)
                    cand = cand[(cand != owner) & (cand % 11 != 0)]
                    d = np.linalg.norm(pos[cand] - pos[owner], axis=1)
                    ok = cand[(d > 8) & (d < 30)]
                    pass_target = int(rng.choice(ok if len(ok) else cand))
                    speed = rng.uniform(11.0, 16.0)
                    d = pos[pass_target] - b
                    bvel = d / (np.linalg.norm(d) + 1e-6) * speed
                    owner = -1
            else:
                if pass_target < 0:
                    pass_target = int(np.argmin(np.linalg.norm(pos[:22] - b, axis=1)))
                d = pos[pass_target] - b
                dist = np.linalg.norm(d)
                speed = max(np.linalg.norm(bvel), 6.0)
                if dist < speed * dt * 1.5:
                    owner = pass_target
                    if rng.random() < 0.12:  # interception now and then
                        other = slice(11, 22) if owner < 11 else slice(0, 11)
                        owner = int(np.argmin(np.linalg.norm(pos[other] - b, axis=1))) + other.start
                    possession = 0 if owner < 11 else 1
                    next_pass = t + rng.uniform(1.2, 3.0)
                    bvel[:] = 0
                else:
                    bvel = d / dist * speed
                    b = b + bvel * dt
            targets = np.concatenate([_formation_targets(0, b, 5.0 if possession == 0 else 0.0), _formation_targets(1, b, 5.0 if possession == 1 else 0.0), [b + [0, -8.0]]])
            if owner >= 0:
                targets[owner] = pos[owner] + [(1.2 if possession == 0 else -1.2), 0.3 * math.sin(t)]
            if pass_target >= 0 and owner < 0:
                targets[pass_target] = b + bvel * 0.3
        # Move players towards their targets with a speed cap (and a little wander).
        wander = np.stack([np.sin(t * 0.7 + np.arange(23)), np.cos(t * 0.5 + 2 * np.arange(23))], 1) * 1.5
        delta = targets + wander - pos
        dist = np.linalg.norm(delta, axis=1, keepdims=True) + 1e-6
        step = np.minimum(dist, sprint[:, None] * dt)
        pos = pos + delta / dist * step
        b = np.clip(b, [-3.0, -2.0], [PITCH_L + 3.0, PITCH_W + 2.0])
        players[i] = pos
        ball[i] = b
        # Camera: follows the ball with lag, zooms in near the boxes during attacks.
        want_w = 40.0 if in_attack and abs(b[0] - attack_goal_x) < 30 else 52.0
        cam_c = cam_c + (b - cam_c) * min(1.0, 2.2 * dt)
        cam_w = cam_w + (want_w - cam_w) * min(1.0, 1.0 * dt)
        half = cam_w / 2
        cam_c[0] = float(np.clip(cam_c[0], half - MARGIN_X + 1, PITCH_L + MARGIN_X - 1 - half))
        cam[i] = (cam_c[0], cam_c[1], cam_w)
        score[i] = goals
    # Shot plan: close-up at goal + 1.5 s, wipe, replay of the last 5 s, wipe, back to wide.
    for ev in events:
        if ev.type != "goal":
            continue
        close_a = ev.time + 1.5
        close_b = ev.time + 7.5
        wipe1 = (close_b, close_b + 0.5)
        rep = (wipe1[1], wipe1[1] + 5.0)
        wipe2 = (rep[1], rep[1] + 0.5)
        fa, fb = int(round(close_a * fps)), int(round(close_b * fps))
        if wipe2[1] * fps >= n:
            shot[fa:] = 1
            scorer_team[fa:] = ev.team
            cuts.append(round(fa / fps, 3))
            continue
        shot[fa:fb] = 1
        scorer_team[fa:fb] = ev.team
        wa, wb = int(round(wipe1[0] * fps)), int(round(wipe1[1] * fps))
        ra, rb = int(round(rep[0] * fps)), int(round(rep[1] * fps))
        xa, xb = int(round(wipe2[0] * fps)), int(round(wipe2[1] * fps))
        shot[wa:wb] = 2
        shot[ra:rb] = 3
        shot[xa:xb] = 2
        rep_src0 = int(round((ev.time - 4.0) * fps))
        src[ra:rb] = np.clip(np.arange(rb - ra) + rep_src0, 0, n - 1)
        score[ra:rb] = score[ra - 1] if ra > 0 else 0
        cuts.extend([round(fa / fps, 3), round(fb / fps, 3), round(xb / fps, 3)])
        replays.append({"start": round(ra / fps, 3), "end": round(rb / fps, 3), "of_time": ev.time,
                        "source_start": round(rep_src0 / fps, 3)})
    return Sim(players, ball, cam, shot, src, score, scorer_team), sorted(cuts), replays


# ----------------------------------------------------------------------------- rendering


def _world_raster(rng: np.random.Generator) -> np.ndarray:
    w = int((PITCH_L + 2 * MARGIN_X) * PX_PER_M)
    h = int((PITCH_W + MARGIN_TOP + MARGIN_BOTTOM) * PX_PER_M)
    img = np.zeros((h, w, 3), np.uint8)
    ox, oy = MARGIN_X * PX_PER_M, MARGIN_TOP * PX_PER_M
    # Stands: dense crowd of coloured dots on a dark ground.
    crowd = rng.integers(30, 200, (h // 3 + 1, w // 3 + 1, 3), dtype=np.uint8)
    crowd = cv2.resize(crowd, (w, h), interpolation=cv2.INTER_NEAREST)
    img[:] = (crowd * 0.7).astype(np.uint8)
    # Grass with mowing stripes and a little texture (the camera-motion signal needs some).
    gx0, gy0 = int(ox - 4 * PX_PER_M), int(oy - 3 * PX_PER_M)
    gx1, gy1 = int(ox + (PITCH_L + 4) * PX_PER_M), int(oy + (PITCH_W + 3) * PX_PER_M)
    xs = (np.arange(gx0, gx1) - ox) / PX_PER_M
    stripe = (np.floor(xs / 5.25).astype(int) % 2)[None, :, None]
    base = np.where(stripe == 0, np.array([40, 140, 55], np.int16), np.array([48, 160, 66], np.int16))
    noise = rng.normal(0, 6, (gy1 - gy0, gx1 - gx0, 1))
    img[gy0:gy1, gx0:gx1] = np.clip(base + noise, 0, 255).astype(np.uint8)
    white = (235, 235, 235)
    lw = max(2, PX_PER_M // 8)

    def P(x, y):
        return int(round(ox + x * PX_PER_M)), int(round(oy + y * PX_PER_M))

    cv2.rectangle(img, P(0, 0), P(PITCH_L, PITCH_W), white, lw, cv2.LINE_AA)
    cv2.line(img, P(PITCH_L / 2, 0), P(PITCH_L / 2, PITCH_W), white, lw, cv2.LINE_AA)
    cv2.circle(img, P(PITCH_L / 2, PITCH_W / 2), int(9.15 * PX_PER_M), white, lw, cv2.LINE_AA)
    for side in (0, 1):
        x0 = 0 if side == 0 else PITCH_L
        s = 1 if side == 0 else -1
        cv2.rectangle(img, P(x0, PITCH_W / 2 - 20.16), P(x0 + s * 16.5, PITCH_W / 2 + 20.16), white, lw, cv2.LINE_AA)
        cv2.rectangle(img, P(x0, PITCH_W / 2 - 9.16), P(x0 + s * 5.5, PITCH_W / 2 + 9.16), white, lw, cv2.LINE_AA)
        cv2.circle(img, P(x0 + s * 11, PITCH_W / 2), 3, white, -1)
        # Goal: posts and a net behind the line.
        g0, g1 = P(x0, PITCH_W / 2 - 3.66), P(x0 - s * 2.0, PITCH_W / 2 + 3.66)
        net = img[min(g0[1], g1[1]):max(g0[1], g1[1]), min(g0[0], g1[0]):max(g0[0], g1[0])]
        net[::4, :] = (210, 210, 210)
        net[:, ::4] = (210, 210, 210)
        cv2.rectangle(img, g0, g1, (255, 255, 255), lw + 2)
    return img


def _draw_player(img, x, y, h, shirt, shorts, lean=0.0):
    """A standing figure with its feet at (x, y), h pixels tall."""
    if h < 4:
        return
    w = max(h * 0.28, 2)
    head = max(int(h * 0.09), 1)
    skin = (120, 160, 205)
    xi, yi = int(x), int(y)
    leg_top = y - h * 0.45
    cv2.line(img, (int(x - w * 0.25), int(y)), (int(x - w * 0.15), int(leg_top)), (30, 30, 30), max(1, int(w * 0.25)))
    cv2.line(img, (int(x + w * 0.25), int(y)), (int(x + w * 0.15), int(leg_top)), (30, 30, 30), max(1, int(w * 0.25)))
    cv2.rectangle(img, (int(x - w / 2), int(y - h * 0.55)), (int(x + w / 2), int(leg_top)), shorts, -1)
    cv2.rectangle(img, (int(x - w / 2 + lean), int(y - h * 0.85)), (int(x + w / 2 + lean), int(y - h * 0.55)), shirt, -1)
    cv2.circle(img, (int(xi + lean), int(y - h * 0.91)), head, skin, -1, cv2.LINE_AA)


def _kits(seed: int) -> tuple[tuple, tuple]:
    r = np.random.default_rng(seed + 7919)
    a, b = r.choice(len(KITS), 2, replace=False)
    return KITS[int(a)], KITS[int(b)]


class Renderer:
    def __init__(self, sim: Sim, size: tuple[int, int], seed: int, fps: float, scorebug: bool = True):
        self.sim, self.w, self.h, self.fps = sim, size[0], size[1], fps
        self.scorebug = scorebug
        rng = np.random.default_rng(seed + 1)
        self.world = _world_raster(rng)
        self.kits = _kits(seed)
        # Close-ups are shot from pitch level against the stands: the blurred crowd, no grass
        # (the raster's grass starts 3 m above the touchline).
        self.crowd_close = cv2.GaussianBlur(self.world[: int((MARGIN_TOP - 4) * PX_PER_M)], (0, 0), 3)
        self.font_scale = self.h / 720

    def frame(self, i: int) -> np.ndarray:
        kind = int(self.sim.shot[i])
        if kind == 1:
            img = self._closeup(i)
        elif kind == 2:
            img = self._wipe(i)
        else:
            img = self._wide(int(self.sim.src[i]))
            if kind == 3:
                cv2.putText(img, "REPLAY", (int(self.w * 0.78), int(self.h * 0.1)), cv2.FONT_HERSHEY_DUPLEX, 1.1 * self.font_scale * 1.5, (255, 255, 255), max(1, int(2 * self.font_scale)), cv2.LINE_AA)
        if self.scorebug:
            self._overlay(img, i)
        return img

    def _wide(self, j: int) -> np.ndarray:
        cx, cy, vw = self.sim.cam[j]
        s = vw * PX_PER_M / self.w  # world px per output px
        vh_m = vw * self.h / self.w
        cy = float(np.clip(cy, vh_m / 2 - MARGIN_TOP + 2, PITCH_W + MARGIN_BOTTOM - vh_m / 2))
        x0 = (MARGIN_X + cx) * PX_PER_M - self.w * s / 2
        y0 = (MARGIN_TOP + cy) * PX_PER_M - self.h * s / 2
        m = np.array([[s, 0, x0], [0, s, y0]], np.float32)
        img = cv2.warpAffine(self.world, m, (self.w, self.h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
        ppm = PX_PER_M / s  # output px per metre
        pl = self.sim.players[j]
        sx = (MARGIN_X + pl[:, 0]) * PX_PER_M
        sy = (MARGIN_TOP + pl[:, 1]) * PX_PER_M
        sx = (sx - x0) / s
        sy = (sy - y0) / s
        order = np.argsort(sy)
        hpx = 1.8 * ppm
        for k in order:
            if not (-20 < sx[k] < self.w + 20 and -5 < sy[k] < self.h + hpx):
                continue
            if k == 22:
                shirt, shorts = REFEREE_KIT
            elif k % 11 == 0:
                shirt, shorts = KEEPER_KITS[k // 11]
            else:
                shirt, shorts = self.kits[k // 11]
            _draw_player(img, sx[k], sy[k], hpx, shirt, shorts)
        bx = ((MARGIN_X + self.sim.ball[j, 0]) * PX_PER_M - x0) / s
        by = ((MARGIN_TOP + self.sim.ball[j, 1]) * PX_PER_M - y0) / s
        r = max(0.16 * ppm, 1.6)
        cv2.ellipse(img, (int(bx + r * 0.6), int(by + r * 0.5)), (int(r * 1.2), max(int(r * 0.5), 1)), 0, 0, 360, (25, 70, 25), -1, cv2.LINE_AA)
        cv2.circle(img, (int(round(bx)), int(round(by - r))), int(round(r)), (250, 250, 250), -1, cv2.LINE_AA)
        return img

    def _closeup(self, i: int) -> np.ndarray:
        # Scorer celebrating in front of the stands: big figure, moving background.
        t = i / self.fps
        bg = self.crowd_close
        ch, cw = bg.shape[:2]
        off = int((t * 40) % max(cw - ch * self.w // self.h, 1))
        crop = bg[:, off: off + max(ch * self.w // self.h, 1)]
        img = cv2.resize(crop, (self.w, self.h), interpolation=cv2.INTER_LINEAR)
        team = int(self.sim.scorer_team[i])
        shirt, shorts = self.kits[team]
        sway = math.sin(t * 5) * self.w * 0.03
        h = self.h * 1.6
        _draw_player(img, self.w * 0.5 + sway, self.h * 1.45, h, shirt, shorts, lean=sway * 0.3)
        arm = int(self.h * 0.05)
        for s in (-1, 1):
            cv2.line(img, (int(self.w / 2 + sway + s * h * 0.12), int(self.h * 0.35)), (int(self.w / 2 + sway + s * h * 0.25), int(self.h * (0.05 + 0.05 * math.sin(t * 8)))), shirt, arm)
        return img

    def _wipe(self, i: int) -> np.ndarray:
        # A logo wipe: a broadcast sting that sweeps across before and after a replay.
        j = int(self.sim.src[i])
        img = self._wide(j)
        seg = self.sim.shot
        a = i
        while a > 0 and seg[a - 1] == 2:
            a -= 1
        b = i
        while b + 1 < len(seg) and seg[b + 1] == 2:
            b += 1
        frac = (i - a + 1) / (b - a + 2)
        x = int(frac * self.w * 1.6 - self.w * 0.3)
        pts = np.array([[x - self.w // 2, 0], [x + self.w // 5, 0], [x + self.w // 2 - self.w // 5, self.h], [x - self.w // 2 - self.w // 5, self.h]], np.int32)
        cv2.fillPoly(img, [pts], (140, 30, 20))
        cv2.circle(img, (x, self.h // 2), self.h // 5, (30, 200, 250), -1, cv2.LINE_AA)
        return img

    def _overlay(self, img: np.ndarray, i: int) -> None:
        fs = max(self.font_scale * 0.9, 0.35)
        th = max(1, int(round(2 * self.font_scale)))
        sc = self.sim.score[i]
        minute = i / self.fps / 60.0 + 12.0  # 12.0 min = SCOREBUG_CLOCK_START_S (kept: same bytes)
        text = f"HOM {sc[0]}-{sc[1]} AWY  {int(minute):02d}:{int(minute * 60) % 60:02d}"
        (tw, tht), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, fs, th)
        x, y = int(self.w * 0.03), int(self.h * 0.04)
        cv2.rectangle(img, (x - 4, y - 4), (x + tw + 8, y + tht + 8), (40, 20, 10), -1)
        cv2.putText(img, text, (x + 2, y + tht + 2), cv2.FONT_HERSHEY_SIMPLEX, fs, (255, 255, 255), th, cv2.LINE_AA)


# ----------------------------------------------------------------------------- audio


class AudioSynth:
    """Crowd murmur, commentary babble, roars and whistles, generated block by block."""

    def __init__(self, events: list[Event], duration_s: float, seed: int, sr: int = AUDIO_SR):
        self.events, self.duration_s, self.seed, self.sr = events, duration_s, seed, sr
        self.pink_b, self.pink_a = [0.049922035, -0.095993537, 0.050612699, -0.004408786], [1, -2.494956002, 2.017265875, -0.522189400]
        self.roar_b, self.roar_a = sps.butter(2, [250 / (sr / 2), 3500 / (sr / 2)], "band")
        self.zi_pink = np.zeros(3)
        self.zi_roar = np.zeros(4)
        self.phase = 0.0

    def excitement(self, t: np.ndarray) -> np.ndarray:
        """Commentary intensity 0..1 over time: rises through each attack, peaks after a goal."""
        x = np.zeros_like(t)
        for ev in self.events:
            rise = np.clip((t - ev.start) / max(ev.time - ev.start, 0.1), 0, 1) * (t < ev.time + 0.5)
            peak = 1.0 if ev.type == "goal" else 0.6
            after = np.exp(-np.clip(t - ev.time, 0, None) / (4.0 if ev.type == "goal" else 1.5)) * (t >= ev.time) * peak
            x = np.maximum(x, np.maximum(rise * 0.5, after))
        return x

    def roar_env(self, t: np.ndarray) -> np.ndarray:
        env = np.zeros_like(t)
        for k, ev in enumerate(self.events):
            r = np.random.default_rng(self.seed * 1000 + k)
            if ev.type == "goal":
                t0, rise, hold, decay, gain = ev.time + r.uniform(0.2, 1.2), 1.2, r.uniform(5, 7), 3.0, 10 ** (18 / 20)
            else:
                t0, rise, hold, decay, gain = ev.time + r.uniform(0.1, 0.6), 0.5, r.uniform(1.2, 2.0), 1.5, 10 ** (10 / 20)
            u = t - t0
            e = np.where(u < 0, 0, np.where(u < rise, u / rise, np.where(u < rise + hold, 1.0, np.exp(-np.clip(u - rise - hold, 0, None) / decay * 2.5))))
            env = np.maximum(env, e * gain)
        return env

    def block(self, t0: float, n: int, index: int) -> np.ndarray:
        sr = self.sr
        rng = np.random.default_rng([self.seed, index])
        t = t0 + np.arange(n) / sr
        # Murmur: pink noise around -34 dBFS with a slow swell.
        pink, self.zi_pink = sps.lfilter(self.pink_b, self.pink_a, rng.normal(0, 1, n), zi=self.zi_pink)
        murmur = pink * 0.02 * (1 + 0.2 * np.sin(2 * np.pi * t / 23.0))
        # Roar: band-limited noise with a swelling envelope, broadband and sustained.
        roar_src, self.zi_roar = sps.lfilter(self.roar_b, self.roar_a, rng.normal(0, 1, n), zi=self.zi_roar)
        roar = roar_src * 0.02 * self.roar_env(t)
        # Commentary: voiced syllables (harmonic stack, 4-6 per second) with pauses.
        exc = self.excitement(t)
        syl = 0.2
        k = np.floor(t / syl).astype(np.int64)
        ks = np.unique(k)
        syl_rng = np.random.default_rng([self.seed, 7, index])
        voiced = dict(zip(ks, syl_rng.random(len(ks)) < 0.72))
        pitch_jit = dict(zip(ks, syl_rng.uniform(-15, 15, len(ks))))
        on = np.array([voiced[v] for v in k], bool)
        f0 = 125 + 70 * exc + np.array([pitch_jit[v] for v in k])
        phase = self.phase + 2 * np.pi * np.cumsum(f0) / sr
        self.phase = float(phase[-1] % (2 * np.pi))
        frac = (t / syl) % 1.0
        syl_env = np.sin(np.pi * frac) ** 2 * on
        voice = np.zeros(n)
        for h in range(1, 9):
            voice += np.sin(h * phase) / h * (1.0 + 0.8 * math.sin(h + index))
        voice *= syl_env * 0.03 * (1 + 2.0 * exc)
        # Whistles: a short blast at each kickoff after a goal.
        wh = np.zeros(n)
        for ev in self.events:
            if ev.type == "goal":
                tw = ev.time + 14.0
                m = (t >= tw) & (t < tw + 0.6)
                wh[m] = 0.1 * np.sin(2 * np.pi * (3000 + 120 * np.sin(2 * np.pi * 30 * t[m])) * t[m])
        return (murmur + roar + voice + wh).astype(np.float32)


# ----------------------------------------------------------------------------- writer


def generate(
    out_path: str | os.PathLike,
    duration_s: float = 60.0,
    seed: int = 0,
    size: tuple[int, int] = (640, 360),
    fps: float = 25.0,
    progress: Callable[[float], None] | None = None,
    calm_s: float = 60.0,
    scorebug: bool = True,
) -> dict:
    """Write a synthetic match to `out_path` and its truth to `<stem>.truth.json`.

    Returns the truth dict. Deterministic for a given (duration, seed, size, fps, calm_s,
    scorebug); `calm_s` is the longest calm stretch between attacks (see `plan_events`).
    `scorebug=False` leaves out the score overlay (and adds `"scorebug": false` to the
    truth); with it, the overlay's score changes SCOREBUG_DELAY_S after each goal's `time`.
    """
    if duration_s <= 0:
        raise ValueError("duration must be positive")
    if calm_s < 1.0:
        raise ValueError("calm_s must be at least 1 s")
    w, h = int(size[0]) // 2 * 2, int(size[1]) // 2 * 2
    if w < 64 or h < 64:
        raise ValueError("size must be at least 64x64")
    out = Path(out_path)
    if out.suffix.lower() != ".mp4":
        raise OutputError(f"{out}: synthetic matches are written as .mp4")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {out.parent}: {exc.strerror}") from None
    rng = np.random.default_rng(seed)
    events = plan_events(duration_s, rng, calm_s)
    sim, cuts, replays = simulate(duration_s, fps, events, rng)
    renderer = Renderer(sim, (w, h), seed, fps, scorebug=scorebug)
    asynth = AudioSynth(events, duration_s, seed)
    tmp = out.with_name(f".{out.stem}.{os.getpid()}.tmp.mp4")
    n = len(sim.shot)
    try:
        with av.open(str(tmp), "w", format="mp4") as container:
            from fractions import Fraction

            vs = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
            vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
            vs.options = {"preset": "veryfast", "crf": "23", "g": str(int(fps * 2))}
            vs.codec_context.thread_count = 2
            as_ = container.add_stream("aac", rate=AUDIO_SR, layout="stereo")
            audio_block_s = 1.0
            next_audio = 0.0
            block_i = 0
            apts = 0
            for i in range(n):
                t = i / fps
                while next_audio <= t + 1.0 and next_audio < duration_s:
                    nb = int(min(audio_block_s, duration_s - next_audio) * AUDIO_SR)
                    mono = asynth.block(next_audio, nb, block_i)
                    stereo = np.stack([mono, mono * 0.97]).astype(np.float32)
                    af = av.AudioFrame.from_ndarray(np.clip(stereo, -1, 1), format="fltp", layout="stereo")
                    af.sample_rate = AUDIO_SR
                    af.pts = apts
                    apts += nb
                    for pkt in as_.encode(af):
                        container.mux(pkt)
                    next_audio += audio_block_s
                    block_i += 1
                img = renderer.frame(i)
                vf = av.VideoFrame.from_ndarray(img, format="bgr24")
                for pkt in vs.encode(vf):
                    container.mux(pkt)
                if progress and i % 25 == 0:
                    progress(i / n)
            for pkt in vs.encode(None):
                container.mux(pkt)
            for pkt in as_.encode(None):
                container.mux(pkt)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    truth = {
        "events": [{"type": e.type, "time": e.time, "start": e.start, "end": e.end, "team": e.team} for e in events],
        "cuts": cuts,
        "replays": replays,
        "kits": {"team0": list(renderer.kits[0][0]), "team1": list(renderer.kits[1][0]), "colour_space": "BGR"},
        "seed": seed,
        "duration": duration_s,
        "fps": fps,
        "size": [w, h],
        "generator": f"pipeline.synth v{GENERATOR_VERSION}",
    }
    if not scorebug:  # only then, so that default truth files stay as they were
        truth["scorebug"] = False
    truth_path = truth_path_for(out)
    write_text(truth_path, json.dumps(truth, indent=2))
    if progress:
        progress(1.0)
    return truth


def truth_path_for(video: str | os.PathLike) -> Path:
    v = Path(video)
    return v.with_name(v.stem + ".truth.json")
