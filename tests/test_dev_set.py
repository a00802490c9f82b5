"""scripts/make_dev_set.py: the dev set holds every labelled real clip, goals kept apart."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "make_dev_set.py"


def _script():
    spec = importlib.util.spec_from_file_location("make_dev_set", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


dev = _script()
needs_real = pytest.mark.skipif(not dev.REAL.is_dir(), reason=f"real clips not found at {dev.REAL}")


@needs_real
def test_order_holds_every_labelled_clip_with_goals_apart():
    roles = dev.check_order(dev.REAL, dev.ORDER)
    assert {rel.split("/")[0] for rel in dev.ORDER} >= dev.labelled_folders(dev.REAL)
    assert roles.count("goal") >= 3 and "calm" in roles
    assert all(not (a == b == "goal") for a, b in zip(roles, roles[1:]))
    assert all((dev.REAL / rel).is_file() for rel in dev.ORDER)


@needs_real
def test_bad_orders_are_refused():
    goals = [rel for rel in dev.ORDER if dev.role(dev.REAL, rel) == "goal"]
    with pytest.raises(SystemExit, match="touch"):
        dev.check_order(dev.REAL, goals + [rel for rel in dev.ORDER if rel not in goals])
    with pytest.raises(SystemExit, match="not in ORDER"):
        dev.check_order(dev.REAL, dev.ORDER[1:])
    # The Barcelona goal (0.45 s into its clip) moved behind the last clip, after a calm one.
    barca = next(rel for rel in goals if rel.startswith("goal_barca"))
    with pytest.raises(SystemExit, match="put the clip first"):
        dev.check_order(dev.REAL, [rel for rel in dev.ORDER if rel != barca] + [barca])
