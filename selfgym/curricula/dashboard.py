"""The curriculum dashboard: one self-contained HTML page (inline SVG plots, no external scripts or styles) from
a :class:`~.store.CurriculumStore` run: success per family and level over time, where the draws go, the families,
and the tasks the curriculum wrote. Every string from the store (task text, written by a model) is HTML-escaped."""

from __future__ import annotations

import html
import time
from collections import Counter, defaultdict
from collections.abc import Sequence

from .store import CurriculumStore, RunInfo

COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
          "#17becf"]
WIDTH, HEIGHT, PAD = 640, 260, 40
MAX_POINTS = 20_000  # the plots show the last this many outcomes and draws
MAX_SERIES = 10  # arms drawn in a plot (the most played); the others are summed as "other" in the draws plot


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _bins(n: int, count: int = 30) -> list[tuple[int, int]]:
    """Up to ``count`` consecutive [start, stop) index ranges covering ``range(n)``."""
    count = max(1, min(count, n))
    edges = [round(i * n / count) for i in range(count + 1)]
    return [(a, b) for a, b in zip(edges, edges[1:], strict=False) if b > a]


def line_plot(series: dict[str, list[tuple[float, float]]], *, title: str, xlabel: str, ylabel: str,
              ymax: float = 1.0, colors: dict[str, str] | None = None) -> str:
    """An SVG line plot: ``series`` maps a label to (x, y) points, y in [0, ymax]; ``colors`` by label."""
    colors = colors or {label: COLORS[i % len(COLORS)] for i, label in enumerate(series)}
    xs = [x for points in series.values() for x, _ in points] or [0.0, 1.0]
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    w, h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD

    def at(x: float, y: float) -> str:
        return f"{PAD + (x - x0) / (x1 - x0) * w:.1f},{PAD + h - y / ymax * h:.1f}"

    parts = [_frame(title, xlabel, ylabel, x0, x1, ymax)]
    for label, points in series.items():
        color = colors[label]
        if len(points) > 1:
            parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" '
                         f'points="{" ".join(at(x, y) for x, y in points)}"/>')
        for x, y in points:
            cx, cy = at(x, y).split(",")
            parts.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{color}"><title>{_esc(label)}: {y:.2f} at '
                         f'{x:g}</title></circle>')
    return _svg(parts, list(series), colors)


def stacked_bars(bars: list[tuple[float, dict[str, float]]], labels: Sequence[str], *, title: str, xlabel: str,
                 ylabel: str, colors: dict[str, str] | None = None) -> str:
    """An SVG stacked bar plot: each bar (x, {label: share}) with shares summing to at most 1."""
    colors = colors or {label: COLORS[i % len(COLORS)] for i, label in enumerate(labels)}
    w, h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD
    xs = [x for x, _ in bars] or [0.0, 1.0]
    x0, x1 = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    width = max(2.0, w / max(1, len(bars)) - 2)
    parts = [_frame(title, xlabel, ylabel, x0, x1, 1.0)]
    for index, (x, shares) in enumerate(bars):
        left = PAD + index * (w / max(1, len(bars)))
        bottom = PAD + h
        for label in labels:
            share = shares.get(label, 0.0)
            if share <= 0:
                continue
            height = share * h
            bottom -= height
            parts.append(f'<rect x="{left:.1f}" y="{bottom:.1f}" width="{width:.1f}" height="{height:.1f}" '
                         f'fill="{colors[label]}"><title>{_esc(label)}: {share:.0%} of draws near '
                         f'{x:g}</title></rect>')
    return _svg(parts, list(labels), colors)


def _frame(title: str, xlabel: str, ylabel: str, x0: float, x1: float, ymax: float) -> str:
    h = HEIGHT - 2 * PAD
    ticks = "".join(f'<line x1="{PAD}" x2="{WIDTH - PAD}" y1="{PAD + h - f * h:.1f}" y2="{PAD + h - f * h:.1f}" '
                    f'stroke="#ddd"/><text x="{PAD - 4}" y="{PAD + h - f * h + 4:.1f}" font-size="10" '
                    f'text-anchor="end">{f * ymax:g}</text>' for f in (0, 0.25, 0.5, 0.75, 1))
    return (f'<text x="{WIDTH / 2}" y="18" text-anchor="middle" font-weight="bold">{_esc(title)}</text>{ticks}'
            f'<text x="{WIDTH / 2}" y="{HEIGHT - 6}" text-anchor="middle" font-size="11">{_esc(xlabel)} '
            f'({x0:g} to {x1:g})</text><text x="12" y="{HEIGHT / 2}" font-size="11" text-anchor="middle" '
            f'transform="rotate(-90 12 {HEIGHT / 2})">{_esc(ylabel)}</text>')


def _svg(parts: list[str], labels: list[str], colors: dict[str, str]) -> str:
    legend = "".join(f'<span class="key"><i style="background:{colors[label]}"></i>{_esc(label)}</span>'
                     for label in labels)
    return (f'<figure><svg class="plot" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
            f'xmlns="http://www.w3.org/2000/svg" role="img">{"".join(parts)}</svg><figcaption>{legend}'
            f'</figcaption></figure>')


def render_dashboard(store: CurriculumStore, run: RunInfo, *, max_written: int = 200) -> str:
    """The dashboard page of ``run`` (HTML, self-contained; its plots cover the last ``MAX_POINTS`` outcomes and
    draws, the x axis counting from the first of them)."""
    outcomes = store.recent_outcomes(run.id, MAX_POINTS)
    draws = store.draws(run.id, limit=MAX_POINTS)
    tasks = store.tasks(run.id)
    counts = store.counts(run.id)
    by_arm: Counter[str] = Counter(f"{o.family}@{o.level}" for o in outcomes)
    arms = [arm for arm, _ in by_arm.most_common(MAX_SERIES)]
    series: dict[str, list[tuple[float, float]]] = {arm: [] for arm in arms}
    for start, stop in _bins(len(outcomes), 20):
        chunk: dict[str, list[float]] = defaultdict(list)
        for outcome in outcomes[start:stop]:
            chunk[f"{outcome.family}@{outcome.level}"].append(outcome.success)
        for arm in arms:
            if chunk.get(arm):
                series[arm].append((float(stop), sum(chunk[arm]) / len(chunk[arm])))
    drawn: Counter[str] = Counter(f"{family}@{level}" for _, family, level, _ in draws)
    draw_labels = [arm for arm, _ in drawn.most_common(MAX_SERIES)]
    bars = []
    for start, stop in _bins(len(draws), 20):
        chunk_counts = Counter(f"{family}@{level}" for _, family, level, _ in draws[start:stop])
        total = stop - start
        shares = {label: chunk_counts.get(label, 0) / total for label in draw_labels}
        other = 1 - sum(shares.values())
        if other > 1e-9:
            shares["other"] = other
        bars.append((float(stop), shares))
    if any("other" in shares for _, shares in bars):
        draw_labels = [*draw_labels, "other"]
    # one color per family@level in both plots
    colors = {arm: COLORS[i % len(COLORS)] for i, arm in enumerate(sorted(set(arms) | set(draw_labels) - {"other"}))}
    colors["other"] = "#cccccc"
    success_plot = line_plot(series, title="Success per family and level over time", xlabel="episodes",
                             ylabel="success rate", colors=colors)
    draw_plot = stacked_bars(bars, draw_labels, title="Where the draws go (family@level)", xlabel="draws",
                             ylabel="share of draws", colors=colors)
    families: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0])
    for row in tasks:
        entry = families[row["family"]]
        entry[0] += row["plays"]
        entry[1] += row["successes"]
        entry[2] += row["draws"]
    family_rows = "".join(
        f"<tr><td>{_esc(name)}</td><td>{plays}</td><td>{successes:g}</td>"
        f"<td>{(successes / plays if plays else 0):.2f}</td><td>{drawn_n}</td></tr>"
        for name, (plays, successes, drawn_n) in sorted(families.items()))
    written = [row for row in tasks if row["origin"] == "written"][-max_written:]
    written_rows = "".join(
        f"<tr><td>{_esc(row['family'])}</td><td>{_esc(row['task_id'])}</td><td>{row['level']}</td>"
        f"<td class=\"prompt\">{_esc(row['prompt'][:300])}</td><td>{_esc(row['audit_verdict'] or '-')}</td>"
        f"<td>{row['plays']}</td><td>{row['successes']:g}</td></tr>" for row in reversed(written))
    updated = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>selfgym curriculum: {_esc(run.name)}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:24px;color:#222}} h1{{font-size:20px}}
h2{{font-size:16px;margin-top:28px}}
.plots{{display:flex;flex-wrap:wrap;gap:16px}} figure{{margin:0;border:1px solid #ddd;padding:8px;border-radius:6px}}
figcaption{{font-size:12px;max-width:{WIDTH}px}} .key{{margin-right:10px;white-space:nowrap}}
.key i{{display:inline-block;width:10px;height:10px;margin-right:4px}}
table{{border-collapse:collapse;font-size:13px}} td,th{{border:1px solid #ddd;padding:3px 8px;text-align:left}}
td.prompt{{max-width:520px;white-space:pre-wrap;font-family:monospace;font-size:12px}} .meta{{color:#666}}
</style></head>
<body>
<h1>Curriculum <code>{_esc(run.name)}</code>: {_esc(run.curriculum)} for model <code>{_esc(run.model)}</code></h1>
<p class="meta">{counts['outcomes']} outcomes, {counts['draws']} draws, {counts['tasks']} tasks
({len([r for r in tasks if r['origin'] == 'written'])} written), {counts['phases']} evolution phases;
store {_esc(store.safe_url)}; page made {updated}; <span id="age"></span></p>
<div class="plots">{success_plot}{draw_plot}</div>
<h2>Families</h2>
<table id="families"><tr><th>family</th><th>plays</th><th>successes</th><th>success rate</th><th>draws</th></tr>
{family_rows}</table>
<h2>Written tasks (newest first)</h2>
<table id="written"><tr><th>family</th><th>id</th><th>level</th><th>prompt</th><th>audit verdict</th><th>plays</th>
<th>successes</th></tr>{written_rows}</table>
<script>
// live view: /dashboard#live reloads every 10 s
const made = Date.now();
const age = document.getElementById("age");
setInterval(() => {{ age.textContent = Math.round((Date.now() - made) / 1000) + " s ago"; }}, 1000);
if (location.hash === "#live") setTimeout(() => location.reload(), 10000);
document.body.dataset.plots = String(document.querySelectorAll("svg.plot").length);
</script>
</body></html>
"""
