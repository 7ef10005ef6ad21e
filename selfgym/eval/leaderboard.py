"""Leaderboards: eval summaries of one suite version, ranked, as Markdown, JSON and a static HTML page.

Only results of the same suite name, version and fingerprint (the exact tasks, attempts, seeds and sampling)
are ranked together; anything else is a :class:`LeaderboardError` that says which results differ.
"""

from __future__ import annotations

import html
import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..io import atomic_write_bytes, atomic_write_json, atomic_write_text
from .summary import SUMMARY_FORMAT


class LeaderboardError(ValueError):
    """Summaries that cannot be ranked together (other suite versions, incomplete runs, not summaries)."""


def load_summaries(paths: Iterable[str | Path]) -> list[dict[str, Any]]:
    """Read summaries: each path a ``summary.json`` or a run folder holding one."""
    summaries = []
    for path in map(Path, paths):
        file = path / "summary.json" if path.is_dir() else path
        if not file.is_file():
            raise LeaderboardError(f"{path}: no summary.json (run `selfgym eval` to completion first)")
        try:
            summary = json.loads(file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise LeaderboardError(f"{file}: not JSON ({exc})") from None
        if not isinstance(summary, dict) or summary.get("format") != SUMMARY_FORMAT:
            raise LeaderboardError(f"{file}: not a selfgym eval summary ({SUMMARY_FORMAT})")
        summary["_source"] = str(file)
        summaries.append(summary)
    return summaries


def build_leaderboard(summaries: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Rank summaries of one suite version by success rate (then the largest k's pass@k, then name).

    Equal scores share a rank (1, 2, 2, 4). Each row has the overall numbers, per-family success rates, and
    cost (tokens per episode, wall time).
    """
    if not summaries:
        raise LeaderboardError("no results to rank")
    suites: dict[tuple, list[str]] = {}
    for summary in summaries:
        suite = summary["suite"]
        suites.setdefault((suite["name"], str(suite["version"]), suite["fingerprint"]), []).append(
            summary.get("_source", summary["agent"]["name"]))
    if len(suites) > 1:
        lines = [f"  {name} v{version} (fingerprint {fp}): {', '.join(sources)}"
                 for (name, version, fp), sources in suites.items()]
        same_version = len({key[:2] for key in suites}) == 1
        why = ("the same suite version with different tasks, seeds or sampling" if same_version
               else "different suites or suite versions")
        raise LeaderboardError(f"cannot rank results of {why} together:\n" + "\n".join(lines))
    incomplete = [s.get("_source", s["agent"]["name"]) for s in summaries if not s.get("complete")]
    if incomplete:
        raise LeaderboardError(f"incomplete runs (resume them with `selfgym eval`): {', '.join(incomplete)}")
    suite = summaries[0]["suite"]
    ks = [str(k) for k in suite["k"]]
    families = [task_set["name"] for task_set in suite["task_sets"]]
    rows = [_row(summary, ks, families) for summary in summaries]
    rows.sort(key=lambda r: (-r["success_rate"], -r["pass_at_k"].get(ks[-1], 0.0), r["agent"]))
    for index, row in enumerate(rows):
        tied = index and (row["success_rate"], row["pass_at_k"].get(ks[-1])) == (
            rows[index - 1]["success_rate"], rows[index - 1]["pass_at_k"].get(ks[-1]))
        row["rank"] = rows[index - 1]["rank"] if tied else index + 1
    return {"suite": {key: suite[key] for key in ("name", "version", "label", "fingerprint", "attempts", "k",
                                                  "seed", "episodes", "task_sets")},
            "k": ks, "families": families, "rows": rows}


def _row(summary: dict[str, Any], ks: list[str], families: list[str]) -> dict[str, Any]:
    results, cost = summary["results"], summary["cost"]
    present = [family for family in families if family in results["families"]]
    return {
        "agent": summary["agent"]["name"], "spec": summary["agent"].get("spec", ""),
        "success_rate": results["success_rate"], "success_ci95": results["success_ci95"],
        "pass_at_k": {k: results["pass_at_k"][k]["estimate"] for k in ks if k in results["pass_at_k"]},
        "families": {f: results["families"][f]["success_rate"] for f in present},
        "family_ci95": {f: results["families"][f]["success_ci95"] for f in present},
        "episodes": results["episodes"], "errors": results.get("errors", 0),
        "tokens_per_episode": cost["tokens_per_episode"],
        "wall_seconds": cost["wall_seconds"], "source": summary.get("_source", ""),
    }


# --- renderings ---------------------------------------------------------------------------------------------

ERRORS_NOTE = ("errors: episodes lost to infrastructure failures (a sandbox killed from outside, an engine "
               "error), left out of success and pass@k; `selfgym eval` again in the run's folder replays them.")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def to_markdown(board: dict[str, Any]) -> str:
    """The leaderboard as a Markdown table (percentages; the 95% interval of the success rate)."""
    ks, families = board["k"], board["families"]
    header = ["#", "agent", "success %", "95% CI", *[f"pass@{k} %" for k in ks], *families, "tokens/episode",
              "wall s", "errors"]
    lines = [f"**{board['suite']['label']}** ({board['suite']['episodes']} episodes, fingerprint "
             f"`{board['suite']['fingerprint']}`)", "",
             "| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in board["rows"]:
        low, high = row["success_ci95"]
        cells = [str(row["rank"]), row["agent"].replace("|", "\\|"), _pct(row["success_rate"]),
                 f"{_pct(low)}–{_pct(high)}", *[_pct(row["pass_at_k"].get(k)) for k in ks],
                 *[_pct(row["families"].get(f)) for f in families], f"{row['tokens_per_episode']:.0f}",
                 f"{row['wall_seconds']:.0f}", str(row["errors"])]
        lines.append("| " + " | ".join(cells) + " |")
    if any(row["errors"] for row in board["rows"]):
        lines += ["", ERRORS_NOTE]
    return "\n".join(lines) + "\n"


def plot(board: dict[str, Any], fmt: str = "png") -> bytes:
    """Success rate per family and overall, one bar per agent, with 95% intervals (``fmt``: png or svg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    groups = [*board["families"], "overall"]
    rows = board["rows"]
    width = 0.8 / max(1, len(rows))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(groups) + 2), 3.8), dpi=110)
    x = np.arange(len(groups))
    for i, row in enumerate(rows):
        values = [row["families"].get(f, 0.0) for f in board["families"]] + [row["success_rate"]]
        intervals = [row["family_ci95"].get(f, (v, v)) for f, v in zip(board["families"], values)]
        intervals.append(row["success_ci95"])
        errors = np.array([[max(0.0, v - lo) for v, (lo, _) in zip(values, intervals)],
                           [max(0.0, hi - v) for v, (_, hi) in zip(values, intervals)]])
        offset = (i - (len(rows) - 1) / 2) * width
        ax.bar(x + offset, values, width, yerr=errors, capsize=2, label=row["agent"])
    ax.set_xticks(x, groups, rotation=20, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("success rate (95% CI)")
    ax.set_title(board["suite"]["label"])
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt)
    plt.close(fig)
    return buffer.getvalue()


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ padding: .35em .7em; border-bottom: 1px solid #ddd; text-align: right; }}
th {{ cursor: pointer; background: #f3f3f3; user-select: none; white-space: nowrap; }}
th[aria-sort="ascending"]::after {{ content: " \\25B2"; }}
th[aria-sort="descending"]::after {{ content: " \\25BC"; }}
td.text, th.text {{ text-align: left; }}
.ci {{ color: #888; font-size: .85em; }}
.meta {{ color: #555; font-size: .9em; }}
</style></head><body>
<h1>{title}</h1>
<p class="meta">{meta}</p>
<table id="leaderboard"><thead><tr>{head}</tr></thead><tbody>
{body}
</tbody></table>
<p class="meta">Click a column header to sort. Success: share of episodes that ended with full reward
(95% Wilson interval); pass@k: unbiased estimator (Chen et al., 2021) averaged over tasks; family columns:
success rate; errors: episodes lost to infrastructure failures, left out of the other columns.</p>
<figure>{figure}</figure>
<script>
document.querySelectorAll("#leaderboard th").forEach((th, column) => th.addEventListener("click", () => {{
  const body = document.querySelector("#leaderboard tbody");
  const ascending = th.getAttribute("aria-sort") !== "ascending";
  document.querySelectorAll("#leaderboard th").forEach(other => other.removeAttribute("aria-sort"));
  th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  const numeric = th.dataset.type === "number";
  const value = row => {{
    const cell = row.children[column];
    return numeric ? parseFloat(cell.dataset.value) : cell.textContent;
  }};
  const rows = Array.from(body.rows).sort((a, b) => {{
    const x = value(a), y = value(b);
    const order = numeric ? x - y : x.localeCompare(y);
    return ascending ? order : -order;
  }});
  rows.forEach(row => body.appendChild(row));
}}));
</script>
</body></html>
"""


def to_html(board: dict[str, Any], figure_svg: str = "") -> str:
    """A self-contained page: the table (sortable by clicking a header) and the plot (inline SVG)."""
    ks, families = board["k"], board["families"]
    columns = [("#", "number"), ("agent", "text"), ("success %", "number"),
               *[(f"pass@{k} %", "number") for k in ks], *[(f, "number") for f in families],
               ("tokens/episode", "number"), ("wall s", "number"), ("errors", "number")]
    head = "".join(f'<th data-type="{kind}" class="{kind}">{html.escape(name)}</th>'
                   for name, kind in columns)

    def number(value: float | None, text: str, extra: str = "") -> str:
        data = "NaN" if value is None else repr(float(value))
        return f'<td data-value="{data}">{text}{extra}</td>'

    body = []
    for row in board["rows"]:
        low, high = row["success_ci95"]
        cells = [number(row["rank"], str(row["rank"])),
                 f'<td class="text" title="{html.escape(row["spec"])}">{html.escape(row["agent"])}</td>',
                 number(row["success_rate"], _pct(row["success_rate"]),
                        f' <span class="ci">[{_pct(low)}, {_pct(high)}]</span>'),
                 *[number(row["pass_at_k"].get(k), _pct(row["pass_at_k"].get(k))) for k in ks],
                 *[number(row["families"].get(f), _pct(row["families"].get(f))) for f in families],
                 number(row["tokens_per_episode"], f"{row['tokens_per_episode']:.0f}"),
                 number(row["wall_seconds"], f"{row['wall_seconds']:.0f}"),
                 number(row["errors"], str(row["errors"]))]
        body.append("<tr>" + "".join(cells) + "</tr>")
    suite = board["suite"]
    meta = (f"{suite['episodes']} episodes: {len(families)} task sets x {suite['attempts']} attempt(s) per "
            f"task; seed {suite['seed']}; fingerprint <code>{html.escape(suite['fingerprint'])}</code>")
    return _PAGE.format(title=html.escape(f"Leaderboard: {suite['label']}"), meta=meta, head=head,
                        body="\n".join(body), figure=figure_svg)


def write_leaderboard(summaries: Sequence[dict[str, Any]], out_dir: str | Path) -> dict[str, Path]:
    """Rank ``summaries`` and write ``leaderboard.md``, ``.json``, ``.html`` and ``.png`` into ``out_dir``."""
    board = build_leaderboard(summaries)
    out_dir = Path(out_dir)
    paths = {kind: out_dir / f"leaderboard.{kind}" for kind in ("md", "json", "html", "png")}
    atomic_write_text(paths["md"], to_markdown(board))
    atomic_write_json(paths["json"], board)
    svg = plot(board, "svg").decode("utf-8")
    atomic_write_text(paths["html"], to_html(board, svg[svg.index("<svg"):]))
    atomic_write_bytes(paths["png"], plot(board, "png"))
    return paths
