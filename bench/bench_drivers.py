"""Driver accuracy on synthetic segment incidents: one segment of 10 drops 3σ (its own σ) among noisy peers.

For a sum (counts per reviewer: sizes 50–500, daily noise 5 % of size) and for a rate (approvals per currency:
volumes 50–1,000 a day, rate 95 % with binomial noise, one segment's rate down 3σ of its own rate), 28 days of
history and today's values go through `compute.drivers.find_drivers`, exactly as compute calls it. Scored:
recall (the injected segment is named), precision (named drivers that are the injected one), top-1 (it is
named first), exact (it is the only driver); over all trials and over those where the metric as a whole moved
≥ 2σ of its own daily noise (the days a metric is amber or red, the only ones whose drivers are shown).

Run: .venv/bin/python bench/bench_drivers.py [trials]
"""

from __future__ import annotations

import math
import os
import random
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import date, timedelta

from heartbeat_core.compute.drivers import find_drivers
from heartbeat_core.compute.segments import SegmentRow
from heartbeat_core.metrics.definition import TypicalOptions

DAY = date(2026, 12, 2)
OPTIONS = TypicalOptions(window_days=28)
SEGMENTS = 10
SIGMAS = 3.0


@dataclass
class Score:
    trials: int = 0
    named: int = 0
    drivers: int = 0
    correct: int = 0
    top1: int = 0
    exact: int = 0

    def add(self, injected: str, names: list[str]) -> None:
        self.trials += 1
        self.drivers += len(names)
        self.correct += names.count(injected)
        self.named += injected in names
        self.top1 += bool(names) and names[0] == injected
        self.exact += names == [injected]

    def row(self, label: str) -> str:
        pct = lambda n, d: f"{100 * n / d:.1f} %" if d else "—"  # noqa: E731
        return (
            f"| {label} | {self.trials} | {pct(self.named, self.trials)} | {pct(self.correct, self.drivers)} | "
            f"{pct(self.top1, self.trials)} | {pct(self.exact, self.trials)} | {self.drivers / max(self.trials, 1):.2f} |"
        )


def _sum_trial(rng: random.Random) -> tuple[str, list[str], bool]:
    sizes = [rng.uniform(50, 500) for _ in range(SEGMENTS)]
    history = [
        (DAY - timedelta(days=n), SegmentRow("reviewer", f"s{i}", v, weight=v))
        for n in range(1, 29)
        for i, size in enumerate(sizes)
        for v in [max(0.0, rng.gauss(size, 0.05 * size))]
    ]
    injected = rng.randrange(SEGMENTS)
    today_values = [max(0.0, rng.gauss(s, 0.05 * s)) for s in sizes]
    today_values[injected] -= SIGMAS * 0.05 * sizes[injected]
    today = [SegmentRow("reviewer", f"s{i}", v, weight=v) for i, v in enumerate(today_values)]
    total_sigma = math.sqrt(sum((0.05 * s) ** 2 for s in sizes))
    moved = abs(sum(today_values) - sum(sizes)) >= 2 * total_sigma
    names = [d.segment for d in find_drivers("sum", today, history, DAY, OPTIONS)]
    return f"s{injected}", names, moved


def _rate_rows(rng: random.Random, volumes: list[int], rates: list[float]) -> list[SegmentRow]:
    rows = []
    for i, (n, p) in enumerate(zip(volumes, rates, strict=True)):
        k = max(0, min(n, round(rng.gauss(n * p, math.sqrt(n * p * (1 - p))))))
        rows.append(SegmentRow("currency", f"s{i}", 100 * k / n, numerator=k, denominator=n))
    return rows


def _rate_trial(rng: random.Random) -> tuple[str, list[str], bool]:
    volumes = [round(rng.uniform(50, 1000)) for _ in range(SEGMENTS)]
    base = [0.95] * SEGMENTS
    history = [(DAY - timedelta(days=n), row) for n in range(1, 29) for row in _rate_rows(rng, volumes, base)]
    injected = rng.randrange(SEGMENTS)
    rates = list(base)
    rates[injected] -= SIGMAS * math.sqrt(0.95 * 0.05 / volumes[injected])
    today = _rate_rows(rng, volumes, rates)
    total = sum(volumes)
    overall = sum(r.numerator or 0 for r in today) / total
    moved = abs(overall - 0.95) >= 2 * math.sqrt(0.95 * 0.05 / total)
    names = [d.segment for d in find_drivers("rate", today, history, DAY, OPTIONS)]
    return f"s{injected}", names, moved


def main(trials: int) -> None:
    rng = random.Random(14)
    print("| kind | trials | recall | precision | top-1 | exact | drivers per trial |")
    print("|---|---|---|---|---|---|---|")
    seconds = []
    for label, trial in (
        ("sum (counts per reviewer)", _sum_trial),
        ("rate (approvals per currency)", _rate_trial),
    ):
        every, moved_only = Score(), Score()
        for _ in range(trials):
            started = time.perf_counter()
            injected, names, moved = trial(rng)
            seconds.append(time.perf_counter() - started)
            every.add(injected, names)
            if moved:
                moved_only.add(injected, names)
        print(every.row(f"{label}, all trials"))
        print(moved_only.row(f"{label}, metric moved ≥ 2σ"))
    print(
        f"\n{2 * trials} trials, median {1000 * statistics.median(seconds):.1f} ms per find_drivers call with"
        f" its 28-day history; load average {os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
