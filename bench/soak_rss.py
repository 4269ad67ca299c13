#!/usr/bin/env python3
"""The RSS verdict of a soak run (bench/soak.sh).

    bench/soak_rss.py SAMPLES DURATION_SECONDS

SAMPLES has one line per sample: seconds since the load began, then VmRSS in
kB (from /proc/PID/status), and optionally RssAnon and RssFile in kB, whose
slopes are printed too. The warm-up is the first 2 minutes, or the first
20 % of a run shorter than 10 minutes. Prints the first, last and highest
RSS, the RSS at the end of the warm-up, and the least-squares slope of RSS
over time after the warm-up, in MiB per minute.
"""

import sys


def slope(points):
    """The least-squares slope of y over x; None for fewer than two points."""
    n = len(points)
    if n < 2:
        return None
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if spread == 0:
        return None
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread


def main():
    path, duration = sys.argv[1], float(sys.argv[2])
    samples = []
    parts_of = {"RssAnon": [], "RssFile": []}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2:
                samples.append((float(parts[0]), int(parts[1]) / 1024.0))
            if len(parts) >= 4:
                parts_of["RssAnon"].append((float(parts[0]), int(parts[2]) / 1024.0))
                parts_of["RssFile"].append((float(parts[0]), int(parts[3]) / 1024.0))
    if not samples:
        print("RSS: no samples")
        return
    warm_up = min(120.0, 0.2 * duration)
    settled = [(t / 60.0, mib) for t, mib in samples if t >= warm_up]
    rss = [mib for _, mib in samples]
    print(
        f"RSS: {len(samples)} samples; first {rss[0]:.1f} MiB, last {rss[-1]:.1f} MiB, "
        f"max {max(rss):.1f} MiB"
    )
    if settled:
        per_minute = slope(settled)
        span = settled[-1][0] - settled[0][0]
        print(
            f"RSS after the {warm_up:.0f} s warm-up: {settled[0][1]:.1f} -> {settled[-1][1]:.1f} MiB "
            f"over {span:.1f} min ({len(settled)} samples), min {min(m for _, m in settled):.1f}, "
            f"max {max(m for _, m in settled):.1f}"
        )
        if per_minute is not None:
            print(f"RSS slope after warm-up: {per_minute:+.2f} MiB/min (least squares)")
        for name, points in parts_of.items():
            settled_part = [(t / 60.0, mib) for t, mib in points if t >= warm_up]
            part_slope = slope(settled_part)
            if part_slope is not None:
                print(
                    f"  {name}: {settled_part[0][1]:.1f} -> {settled_part[-1][1]:.1f} MiB, "
                    f"slope {part_slope:+.2f} MiB/min"
                )


if __name__ == "__main__":
    main()
