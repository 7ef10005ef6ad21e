"""Leaderboards: eval summaries of one suite version, ranked, as Markdown, JSON and a static HTML page.

Only results of the same suite name, version and fingerprint (the exact tasks, attempts, seeds and sampling)
are ranked together; anything else is a :class:`LeaderboardError` that says which results differ.
"""

from __future__ import annotations

import functools
import io
import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import jinja2
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..io import atomic_write_bytes, atomic_write_json, atomic_write_text
from .summary import SUMMARY_FORMAT


class LeaderboardError(ValueError):
    """Summaries that cannot be ranked together (other suite versions, incomplete runs, not summaries)."""


# The parts of a summary a leaderboard shows, typed: a summary file may come from anyone, and a field that is not
# what it should be (a script where a count belongs) is refused, not shown. Unlisted fields pass through.
class _Fields(BaseModel):
    model_config = ConfigDict(extra="allow", allow_inf_nan=False)


class _TaskSet(_Fields):
    name: str
    tasks: int


class _Suite(_Fields):
    name: str
    version: int | str
    label: str
    fingerprint: str = Field(pattern=r"^[0-9a-f]{8,64}$")
    attempts: int
    k: list[int]
    seed: int
    episodes: int
    task_sets: list[_TaskSet]


class _Estimate(_Fields):
    estimate: float


class _Outcomes(_Fields):
    success_rate: float
    success_ci95: tuple[float, float]


class _Results(_Outcomes):
    episodes: int
    pass_at_k: dict[str, _Estimate]
    families: dict[str, _Outcomes]


class _Agent(_Fields):
    name: str
    spec: str = ""


class _Cost(_Fields):
    tokens_per_episode: float
    wall_seconds: float


class _Summary(_Fields):
    suite: _Suite
    agent: _Agent
    complete: bool
    results: _Results
    cost: _Cost


def _validated(summary: dict[str, Any]) -> dict[str, Any]:
    try:
        return _Summary.model_validate(summary).model_dump()
    except ValidationError as exc:
        where = summary.get("_source", "a summary") if isinstance(summary, dict) else "a summary"
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise LeaderboardError(f"{where}: not a valid eval summary ({problems})") from None


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
    summaries = [_validated(summary) for summary in summaries]
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
        "episodes": results["episodes"], "tokens_per_episode": cost["tokens_per_episode"],
        "wall_seconds": cost["wall_seconds"], "source": summary.get("_source", ""),
    }


# --- renderings ---------------------------------------------------------------------------------------------

def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _md(text: Any) -> str:
    """``text`` as literal Markdown table content: no cell breaks, line breaks, emphasis or raw HTML."""
    text = " ".join(str(text).split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "".join("\\" + c if c in "\\|`*_[]" else c for c in text)


def to_markdown(board: dict[str, Any]) -> str:
    """The leaderboard as a Markdown table (percentages; the 95% interval of the success rate). Names are
    escaped, so that they show as written."""
    ks, families = board["k"], board["families"]
    header = ["#", "agent", "success %", "95% CI", *[f"pass@{k} %" for k in ks], *map(_md, families),
              "tokens/episode", "wall s"]
    fingerprint = str(board["suite"]["fingerprint"])
    fingerprint = f"`{fingerprint}`" if re.fullmatch(r"[0-9a-f]+", fingerprint) else _md(fingerprint)
    lines = [f"**{_md(board['suite']['label'])}** ({_md(board['suite']['episodes'])} episodes, fingerprint "
             f"{fingerprint})", "",
             "| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for row in board["rows"]:
        low, high = row["success_ci95"]
        cells = [str(row["rank"]), _md(row["agent"]), _pct(row["success_rate"]),
                 f"{_pct(low)}–{_pct(high)}", *[_pct(row["pass_at_k"].get(k)) for k in ks],
                 *[_pct(row["families"].get(f)) for f in families], f"{row['tokens_per_episode']:.0f}",
                 f"{row['wall_seconds']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _plain(text: str) -> str:
    """``text`` for matplotlib as written: ``$`` would start mathtext (and a bad formula would fail the plot)."""
    return str(text).replace("$", r"\$")


def plot(board: dict[str, Any], fmt: str = "png") -> bytes:
    """Success rate per family and overall, one bar per agent, with 95% intervals (``fmt``: png or svg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    groups = [*map(_plain, board["families"]), "overall"]
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
        ax.bar(x + offset, values, width, yerr=errors, capsize=2, label=_plain(row["agent"]))
    ax.set_xticks(x, groups, rotation=20, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("success rate (95% CI)")
    ax.set_title(_plain(board["suite"]["label"]))
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt)
    plt.close(fig)
    return buffer.getvalue()


@functools.cache
def _templates() -> jinja2.Environment:
    # autoescape everywhere: suite, agent and family names come from summary files anyone may hand in
    return jinja2.Environment(loader=jinja2.PackageLoader("selfgym.eval", "templates"), autoescape=True,
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


def to_html(board: dict[str, Any], figure_svg: str = "") -> str:
    """A self-contained page: the table (sortable by clicking a header) and the plot (inline SVG).

    Every value from ``board`` is HTML-escaped by the template; ``figure_svg`` is inserted as markup (pass
    only what :func:`plot` drew)."""
    ks, families = board["k"], board["families"]
    columns = [("#", "number"), ("agent", "text"), ("success %", "number"),
               *[(f"pass@{k} %", "number") for k in ks], *[(f, "number") for f in families],
               ("tokens/episode", "number"), ("wall s", "number")]

    def number(value: float | None, text: str, ci: str = "") -> dict[str, str]:
        return {"kind": "number", "value": "NaN" if value is None else repr(float(value)), "text": text, "ci": ci}

    rows = []
    for row in board["rows"]:
        low, high = row["success_ci95"]
        rows.append([number(row["rank"], str(row["rank"])),
                     {"kind": "text", "title": row["spec"], "text": row["agent"]},
                     number(row["success_rate"], _pct(row["success_rate"]), f"[{_pct(low)}, {_pct(high)}]"),
                     *[number(row["pass_at_k"].get(k), _pct(row["pass_at_k"].get(k))) for k in ks],
                     *[number(row["families"].get(f), _pct(row["families"].get(f))) for f in families],
                     number(row["tokens_per_episode"], f"{row['tokens_per_episode']:.0f}"),
                     number(row["wall_seconds"], f"{row['wall_seconds']:.0f}")])
    return _templates().get_template("leaderboard.html").render(
        suite=board["suite"], families=families, columns=columns, rows=rows, figure=figure_svg)


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
