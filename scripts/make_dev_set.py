"""Join every labelled real clip, separated by unlabelled broadcast clips, into one dev set.

    .venv/bin/python scripts/make_dev_set.py -o bench/dev_set.mp4

Reads ../shared/data/real (never copied into the repo): every folder with a labels.json
(the goals, and the no-goal clips whose exciting moments must not be taken for goals), and
the unlabelled broadcast clips as calm context between them, so that no two goal clips touch.
Clips are joined as scripts/make_real_montage.py does (one loudness, -23 LUFS by a plain gain
per clip; 1280x720 at 25 fps, scaled to cover and centre-cropped). Writes the video and
`<name>.labels.json`: the events of every labels.json shifted into dev-set time (a clip whose
labels hold a `chance` gives a chance event), the replays, and each clip's span and role
(goal, nogoal, calm) so a result can be read clip by clip.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]
from make_real_montage import REAL, build_montage, labels_path  # noqa: E402

from pipeline.evaluate import GOAL_WINDOW_S  # noqa: E402

GOAL_WINDOW_BEFORE_S = GOAL_WINDOW_S[0]

# Goal clips are separated by calm ones. The Barcelona clip goes first: its labelled moment
# (the cut to the celebration) lies 0.45 s into the clip, so its [time - 3 s, time + 1 s]
# window would reach into the clip before it; first in the file, the window is clipped to
# the start of the video, as it is when the clip is evaluated on its own.
ORDER = [
    "goal_barca_athletic_replays_audio/mesi.mp4",
    "laliga_rm_sevilla_audio/soccer.mp4",
    "goal_benfica_porto_audio/goal.mp4",
    "seriea_inter_napoli_audio/match.mp4",
    "nogoal_realmadrid_espanyol_run_audio/run.mp4",
    "tactical_cam_crowd_only_audio/football.mp4",
    "goal_mancity_qpr_aguero_audio/goal.mp4",
    "seriea_inter_quiet_audio/football.mp4",
]


def labelled_folders(real: Path) -> set[str]:
    return {p.parent.name for p in real.glob("*/labels.json")}


def role(real: Path, rel: str) -> str:
    labels = real / rel.split("/")[0] / "labels.json"
    if not labels.exists():
        return "calm"
    events = json.loads(labels.read_text()).get("events", [])
    return "goal" if any(e["type"] == "goal" for e in events) else "nogoal"


def check_order(real: Path, order: list[str]) -> list[str]:
    """The roles of `order`; exits naming the problem when a labelled clip is left out, two
    goal clips touch, or a goal's window would reach into the clip before it."""
    missing = labelled_folders(real) - {rel.split("/")[0] for rel in order}
    if missing:
        raise SystemExit(f"labelled clips not in ORDER: {', '.join(sorted(missing))}; add them to scripts/make_dev_set.py")
    roles = [role(real, rel) for rel in order]
    for i in range(1, len(order)):
        if roles[i] == roles[i - 1] == "goal":
            raise SystemExit(f"goal clips {order[i - 1]} and {order[i]} touch; put a calm clip between them")
    for i, rel in enumerate(order[1:], 1):
        labels = real / rel.split("/")[0] / "labels.json"
        events = json.loads(labels.read_text()).get("events", []) if labels.exists() else []
        if any(e["time"] < GOAL_WINDOW_BEFORE_S for e in events):
            raise SystemExit(f"{rel}: an event within {GOAL_WINDOW_BEFORE_S:g} s of the clip start; put the clip first")
    return roles


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--output", type=Path, default=Path("bench/dev_set.mp4"))
    args = ap.parse_args()
    if not REAL.is_dir():
        raise SystemExit(f"real clips not found at {REAL}")
    roles = check_order(REAL, ORDER)
    doc = build_montage(ORDER, args.output)
    for span, r in zip(doc["clips"], roles, strict=True):
        span["role"] = r
        if r == "nogoal":
            span["note"] = json.loads((REAL / span["clip"].split("/")[0] / "labels.json").read_text()).get("note", "")
    doc["source"] = "labels.json of every labelled clip in ../shared/data/real, shifted into dev-set time; calm clips unlabelled"
    out_labels = labels_path(args.output)
    out_labels.write_text(json.dumps(doc, indent=2))
    for e in doc["events"]:
        print(f"{e['type']:6s} at {e['time']:7.2f} s  [{e['start']:.2f}, {e['end']:.2f}]  {e['clip']}")
    print(f"wrote {args.output} ({doc['duration']:.1f} s, {sum(e['type'] == 'goal' for e in doc['events'])} goals) and {out_labels}")


if __name__ == "__main__":
    main()
