"""Soak: the real daemon for an hour of simulated frames at 120 fps, in accelerated time.

The simulated camera runs in stepped pacing in the 1536x864 @ 120 fps mode; the script lets the
frames flow in batches, presses the shutter every few seconds of camera time, holds AF-ON now and
then, and at the end checks that every press is accounted for (written, or failed with a reason in
the journal) and how much the resident memory grew after the warm-up.

    .venv/bin/python tests/soak.py --minutes 60        # make soak
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from daemon_harness import DaemonHarness, test_config  # noqa: E402
from focusd.signals import ButtonId  # noqa: E402

FPS_MODE = (1536, 864)
#: a small lores stream keeps an hour of frames to minutes of CPU; the daemon's path is the same
SOAK_LORES = (256, 144)


def resident_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS in /proc/self/status")


def soak(minutes: float, folder: Path, press_every_s: float = 3.0, warmup_minutes: float = 2.0) -> dict:
    config = test_config(
        folder,
        camera={"sensor_mode": FPS_MODE, "lores_size": SOAK_LORES},
        shutter={"burst": False},
        capture={"queue_depth": 64, "format": "jpeg"},
    )
    fps = 120
    total_frames = int(minutes * 60 * fps)
    batch = int(press_every_s * fps)
    warmup_frames = int(warmup_minutes * 60 * fps)
    rss_after_warmup = None
    presses = 0
    with DaemonHarness(config, seed=2024, light="indoor") as rig:
        frames = 0
        while frames < total_frames:
            cycle = frames // batch
            if cycle % 4 == 0:
                rig.press(ButtonId.AF_ON)  # AF-ON held for one cycle in four: scans and locks
            rig.press(ButtonId.SHUTTER)
            presses += 1
            rig.step(3)
            rig.release(ButtonId.SHUTTER)
            rig.step(batch - 3)
            if cycle % 4 == 0:
                rig.release(ButtonId.AF_ON)
            frames += batch
            if rss_after_warmup is None and frames >= warmup_frames:
                rss_after_warmup = resident_kib()
        rig.wait(lambda s: s.captures_written + s.captures_failed >= s.presses)
        rss_end = resident_kib()
        stats = rig.stats
        journal = rig.journal()
    accounted = {entry["press_id"] for entry in journal}
    return {
        "simulated_minutes": minutes,
        "frames": stats.frames,
        "presses": presses,
        "presses_seen": stats.presses,
        "captures_written": stats.captures_written,
        "captures_failed": stats.captures_failed,
        "journal_presses": len(accounted),
        "af_locks": stats.af_locks,
        "rss_after_warmup_kib": rss_after_warmup,
        "rss_end_kib": rss_end,
        "rss_growth_kib": rss_end - (rss_after_warmup or rss_end),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="simulated minutes (default 60)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        result = soak(args.minutes, Path(folder))
    print(json.dumps(result, indent=2))
    ok = (
        result["presses_seen"] == result["presses"]
        and result["captures_written"] + result["captures_failed"] == result["presses"]
        and result["journal_presses"] == result["presses"]
        and result["rss_growth_kib"] <= 5 * 1024
    )
    print("soak:", "passed" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
