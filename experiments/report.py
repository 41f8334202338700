"""The benchmark's report: a markdown table, JSON and PNG regret curves, with the medians,
mean ranks per problem group and one-sided Mann-Whitney U tests for the claimed wins."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from experiments.problems import Problem

CLAIMS = [
    ("default-plan", "optuna-gp"),
    ("default-plan", "optuna-tpe"),
    ("default-plan", "optuna-cmaes"),
    ("default-plan", "skopt-gp_minimize"),
    ("default-plan", "hyperopt-tpe"),
    ("bayesian", "skopt-gp_minimize"),
    ("default-plan", "bayesian"),
    ("default-plan", "random"),
    ("default-plan", "genetic"),
]
ALPHA = 0.10


def write_report(
    out: Path,
    problems: list[tuple[Problem, int]],
    runs: list[dict[str, Any]],
    latency: dict[str, dict[int, float]],
    meta: dict[str, Any],
    checkpoints: Callable[[Problem, int], list[int]],
    score: Callable[[Problem, list[float], int], float],
    ranks: Callable[[dict[str, float]], dict[str, float]],
) -> None:
    from scipy.stats import mannwhitneyu

    by_name = {p.name: (p, b) for p, b in problems}
    scores: dict[tuple[str, str, int], list[float]] = defaultdict(list)
    for r in runs:
        p, b = by_name[r["problem"]]
        for c in checkpoints(p, b):
            scores[(r["problem"], r["contender"], c)].append(score(p, r["values"], c))
    contenders = list(dict.fromkeys(r["contender"] for r in runs))
    medians = {k: float(np.median(v)) for k, v in scores.items()}
    group_ranks: dict[tuple[str, int], dict[str, list[float]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for p, b in problems:
        for c in checkpoints(p, b):
            rk = ranks({n: medians[(p.name, n, c)] for n in contenders})
            for n, v in rk.items():
                group_ranks[(p.group, c)][n].append(v)
            if p.optimum is not None:
                for n, v in rk.items():
                    group_ranks[("bbob-all", c)][n].append(v)
    tests = []
    for a, b_ in CLAIMS:
        if a not in contenders or b_ not in contenders:
            continue
        wins = losses = 0
        for p, b in problems:
            last = checkpoints(p, b)[-1]
            x, y = scores[(p.name, a, last)], scores[(p.name, b_, last)]
            if np.ptp(x + y) == 0:
                continue
            wins += mannwhitneyu(x, y, alternative="less").pvalue < ALPHA
            losses += mannwhitneyu(y, x, alternative="less").pvalue < ALPHA
        tests.append(
            {
                "a": a,
                "b": b_,
                "a_better": int(wins),
                "b_better": int(losses),
                "problems": len(problems),
            }
        )
    lines = [
        f"Command: `{meta['command']}`; {meta['date']}; seeds {meta['seeds']}; "
        f"BBOB budget {meta['budget']}, XGBoost budget {meta['ml_budget']}; "
        f"OMP_NUM_THREADS={meta['threads']}.",
        "",
        "Mean rank of the median (over seeds) log10 regret (BBOB) or best CV loss "
        "(XGBoost) per problem group, at each number of evaluations (1 = best):",
        "",
    ]
    lines += [
        "| group | evals | " + " | ".join(contenders) + " |",
        "|---|---|" + "---|" * len(contenders),
    ]
    for (group, c), rk in sorted(group_ranks.items()):
        lines.append(
            f"| {group} | {c} | " + " | ".join(f"{np.mean(rk[n]):.2f}" for n in contenders) + " |"
        )
    lines += [
        "",
        "Median log10 regret (BBOB) / best CV loss (XGBoost) at the full budget:",
        "",
        "| problem | " + " | ".join(contenders) + " |",
        "|---|" + "---|" * len(contenders),
    ]
    for p, b in problems:
        c = checkpoints(p, b)[-1]
        lines.append(
            f"| {p.name} | "
            + " | ".join(f"{medians[(p.name, n, c)]:.3g}" for n in contenders)
            + " |"
        )
    lines += [
        "",
        f"One-sided Mann-Whitney U per problem at the full budget (alpha {ALPHA}): "
        "problems where A is significantly better than B, and the reverse:",
        "",
        "| A | B | A better | B better | problems |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {t['a']} | {t['b']} | {t['a_better']} | {t['b_better']} | {t['problems']} |"
        for t in tests
    ]
    if latency:
        sizes = sorted(next(iter(latency.values())))
        lines += [
            "",
            "Suggest latency (ms, median of 3, one suggestion, 5-D float space, "
            "history of n complete trials; ours from a cold cache):",
            "",
            "| algorithm | " + " | ".join(f"n={s}" for s in sizes) + " |",
            "|---|" + "---|" * len(sizes),
        ]
        lines += [
            f"| {n} | " + " | ".join(f"{v[s] * 1000:.1f}" for s in sizes) + " |"
            for n, v in latency.items()
        ]
    lines += ["", "Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items())]
    (out / "results.md").write_text("\n".join(lines) + "\n")
    (out / "results.json").write_text(
        json.dumps(
            {
                "meta": meta,
                "medians": [
                    {"problem": k[0], "contender": k[1], "evals": k[2], "median": v}
                    for k, v in medians.items()
                ],
                "mean_ranks": {
                    f"{g}@{c}": {n: float(np.mean(v)) for n, v in rk.items()}
                    for (g, c), rk in group_ranks.items()
                },
                "mann_whitney": tests,
                "latency_seconds": latency,
            },
            indent=1,
        )
    )
    _plots(out, problems, runs, contenders)


def _plots(
    out: Path,
    problems: list[tuple[Problem, int]],
    runs: list[dict[str, Any]],
    contenders: list[str],
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = sorted({p.group for p, _ in problems})
    for group in groups:
        members = [(p, b) for p, b in problems if p.group == group]
        cols = min(4, len(members))
        rows = (len(members) + cols - 1) // cols
        fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows), squeeze=False)
        for ax, (p, b) in zip(axes.flat, members, strict=False):
            for n in contenders:
                curves = []
                for r in runs:
                    if r["problem"] == p.name and r["contender"] == n and r["values"]:
                        best = np.minimum.accumulate(np.array(r["values"], dtype=float))
                        best = np.pad(best, (0, b - len(best)), mode="edge")[:b]
                        if p.optimum is not None:
                            best = np.log10(np.maximum(best - p.optimum, 1e-8))
                        curves.append(best)
                if curves:
                    ax.plot(np.arange(1, b + 1), np.median(curves, axis=0), label=n)
            ax.set_title(p.name, fontsize=9)
            ax.set_xlabel("evaluations")
            ax.set_ylabel("log10 regret" if p.optimum is not None else "best loss")
        axes.flat[0].legend(fontsize=6)
        fig.tight_layout()
        fig.savefig(out / f"curves-{group}.png", dpi=80)
        plt.close(fig)
