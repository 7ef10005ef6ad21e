"""Leaderboards from real eval runs: ranking, refusing other suite versions, the CLI, and the HTML page in
headless Chromium (screenshot; the table renders and sorts when a header is clicked; markup and scripts put in
any field of a summary show as text and never run)."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import re
import shutil

import numpy as np
import pytest
from click.testing import CliRunner
from eval_suites import mixed_suite

from selfgym.cli import main
from selfgym.eval import (
    LeaderboardError,
    build_leaderboard,
    load_summaries,
    parse_agent,
    run_eval,
    to_html,
    to_markdown,
)

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Three runs of one suite: the oracle, the oracle again in lockstep pairs (a tie), and the empty agent
    through the command line."""
    folder = tmp_path_factory.mktemp("runs")
    suite = mixed_suite(folder)
    run_eval(suite, "scripted:oracle", folder / "oracle", workers=2, progress=False)
    renamed = parse_agent("scripted:oracle", name="oracle-2")
    run_eval(suite, renamed, folder / "oracle-2", workers=1, batch_size=2, progress=False)
    result = CliRunner().invoke(main, ["eval", str(suite), "--agent", "scripted:empty", "--out",
                                       str(folder / "empty"), "--workers", "2", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "scripted:empty on mixed v1" in result.output
    return folder, [folder / name for name in ("oracle", "oracle-2", "empty")]


def test_ranking_ties_and_markdown(runs):
    _, folders = runs
    board = build_leaderboard(load_summaries(folders))
    assert [(r["rank"], r["agent"]) for r in board["rows"]] == [
        (1, "oracle-2"), (1, "scripted:oracle"), (3, "scripted:empty")]
    oracle = board["rows"][1]
    assert oracle["success_rate"] == pytest.approx(10 / 12) and oracle["pass_at_k"] == pytest.approx(
        {"1": 5 / 6, "2": 5 / 6})
    assert oracle["families"] == pytest.approx({"mini": 2 / 3, "shell": 1.0, "gsm": 1.0})
    # lockstep pairs (batch_size=2) and single episodes give the same outcomes
    assert board["rows"][0]["families"] == oracle["families"]
    markdown = to_markdown(board)
    assert "| # | agent | success % | 95% CI | pass@1 % | pass@2 % | mini | shell | gsm |" in markdown
    assert "| 3 | scripted:empty | 0.0 | 0.0–24.2 |" in markdown


def test_other_suite_versions_and_incomplete_runs_are_refused(runs):
    _, folders = runs
    summaries = load_summaries(folders)
    other_version = copy.deepcopy(summaries[2])
    other_version["suite"]["version"] = 2
    with pytest.raises(LeaderboardError, match="different suites or suite versions"):
        build_leaderboard([*summaries[:2], other_version])
    same_version_other_tasks = copy.deepcopy(summaries[2])
    same_version_other_tasks["suite"]["fingerprint"] = "0" * 16
    with pytest.raises(LeaderboardError, match="same suite version with different tasks"):
        build_leaderboard([summaries[0], same_version_other_tasks])
    incomplete = copy.deepcopy(summaries[0])
    incomplete["complete"] = False
    with pytest.raises(LeaderboardError, match="incomplete runs"):
        build_leaderboard([incomplete, summaries[1]])


def test_cli_writes_every_format_and_refuses_mixed_versions(runs, tmp_path):
    folder, folders = runs
    result = CliRunner().invoke(main, ["leaderboard", *map(str, folders), "--out", str(tmp_path / "board")])
    assert result.exit_code == 0, result.output
    assert "| 1 | oracle-2 |" in result.output
    for kind in ("md", "json", "html", "png"):
        assert (tmp_path / "board" / f"leaderboard.{kind}").stat().st_size > 200
    assert json.loads((tmp_path / "board" / "leaderboard.json").read_text())["suite"]["name"] == "mixed"
    other = tmp_path / "other"
    shutil.copytree(folders[2], other)
    summary = json.loads((other / "summary.json").read_text())
    summary["suite"]["version"] = 2
    (other / "summary.json").write_text(json.dumps(summary))
    result = CliRunner().invoke(main, ["leaderboard", str(folders[0]), str(other)])
    assert result.exit_code == 2 and "error: cannot rank results of different suites" in result.output
    result = CliRunner().invoke(main, ["eval", str(folder / "mixed.yaml"), "--agent", "gpt-9"])
    assert result.exit_code == 2 and "error: cannot tell which agent 'gpt-9' is" in result.output


@contextlib.contextmanager
def chromium_page():
    """A page of a headless Chromium (the host's), closed afterwards."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        try:
            yield browser.new_page(viewport={"width": 1200, "height": 900})
        finally:
            browser.close()


def test_html_page_renders_and_sorts_in_headless_chromium(runs, tmp_path):
    from PIL import Image

    _, folders = runs
    CliRunner().invoke(main, ["leaderboard", *map(str, folders), "--out", str(tmp_path)])
    page_path = tmp_path / "leaderboard.html"
    with chromium_page() as page:
        page.goto(page_path.as_uri())
        agents = lambda: page.eval_on_selector_all(  # noqa: E731
            "#leaderboard tbody tr", "rows => rows.map(r => r.children[1].textContent)")
        assert agents() == ["oracle-2", "scripted:oracle", "scripted:empty"]
        table = page.query_selector("#leaderboard").bounding_box()
        figure = page.query_selector("figure svg").bounding_box()
        assert table["height"] > 80 and table["width"] > 400 and figure["height"] > 150
        shot = page.screenshot(path=str(tmp_path / "leaderboard.png"), full_page=True)

        page.click("#leaderboard th:text-is('agent')")
        assert agents() == ["oracle-2", "scripted:empty", "scripted:oracle"]
        assert page.get_attribute("#leaderboard th:text-is('agent')", "aria-sort") == "ascending"
        page.click("#leaderboard th:text-is('agent')")
        assert agents() == ["scripted:oracle", "scripted:empty", "oracle-2"]
        page.click("#leaderboard th:text-is('success %')")
        assert agents()[0] == "scripted:empty"
        page.click("#leaderboard th:text-is('success %')")
        assert agents()[-1] == "scripted:empty"
        page.screenshot(path=str(tmp_path / "leaderboard-sorted.png"))
    image = Image.open(io.BytesIO(shot)).convert("L")
    dark = int((np.asarray(image) < 128).sum())
    assert image.width == 1200 and image.height >= 900 and dark > 2000  # text, rules and bars were drawn


# --- hostile summaries: every field a summary file carries, with markup and script ------------------------------

def payload(field: str) -> str:
    """Markup that would run a script or change the page if it were not escaped, and a bad mathtext formula."""
    return (f'{field}<script>window.pwned="{field}"</script><img src=x onerror="window.pwned=\'{field}\'">'
            f'<b>bold</b>"\'&amp; | `x` $\\frac{{$')


def hostile_copies(folders, out):
    """The runs' summaries with a payload in every text field (suite, families, agents), written to ``out``."""
    families = {"mini": payload("family-mini"), "shell": payload("family-shell"), "gsm": payload("family-gsm")}
    paths = []
    for number, folder in enumerate(folders):
        summary = json.loads((folder / "summary.json").read_text())
        suite = summary["suite"]
        suite.update(name=payload("suite-name"), label=payload("suite-label"), version=payload("suite-version"))
        for task_set in suite["task_sets"]:
            task_set["name"] = families[task_set["name"]]
        summary["results"]["families"] = {families[name]: value
                                          for name, value in summary["results"]["families"].items()}
        summary["agent"].update(name=payload(f"agent-{number}"), spec=payload(f"spec-{number}"))
        path = out / f"{number}.json"
        path.write_text(json.dumps(summary))
        paths.append(path)
    return paths, list(families.values())


def assert_shown_as_text(page, texts):
    """No payload ran or added elements, and each text shows as written."""
    assert page.evaluate("window.pwned") is None
    assert page.eval_on_selector_all("script", "s => s.length") == 1  # the page's own sorting script
    assert page.eval_on_selector_all("img, b", "e => e.length") == 0
    shown = page.evaluate("document.body.innerText + ' ' + document.title + ' ' + "
                          "Array.from(document.querySelectorAll('[title]')).map(e => e.title).join(' ')")
    for text in texts:
        assert text in shown, text


def test_markup_in_any_summary_field_shows_as_text_in_every_format(runs, tmp_path):
    _, folders = runs
    paths, families = hostile_copies(folders, tmp_path)
    result = CliRunner().invoke(main, ["leaderboard", *map(str, paths), "--out", str(tmp_path / "board")])
    assert result.exit_code == 0, result.output
    agents = [payload(f"agent-{n}") for n in range(3)]
    texts = [payload("suite-label"), *families, *agents, *(payload(f"spec-{n}") for n in range(3))]
    with chromium_page() as page:
        dialogs = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.goto((tmp_path / "board" / "leaderboard.html").as_uri())
        assert_shown_as_text(page, texts)
        assert dialogs == []
        assert page.query_selector("figure svg").bounding_box()["height"] > 150  # "$\frac{$" did not stop the plot
    markdown = (tmp_path / "board" / "leaderboard.md").read_text()
    assert "<script" not in markdown and "<img" not in markdown
    table = [line for line in markdown.splitlines() if line.startswith("|")]
    assert len({len(re.findall(r"(?<!\\)\|", line)) for line in table}) == 1  # no name breaks a row


def test_unescaped_counts_cannot_come_from_a_summary_and_are_escaped_anyway(runs, tmp_path):
    _, folders = runs
    summaries = load_summaries(folders)
    for field in ("episodes", "attempts", "seed", "fingerprint"):
        tampered = copy.deepcopy(summaries)
        for summary in tampered:
            summary["suite"][field] = payload(field)
        with pytest.raises(LeaderboardError, match=f"not a valid eval summary.*{field}"):
            build_leaderboard(tampered)
    # a board put together by other code reaches the template unvalidated: the template still escapes
    board = build_leaderboard(summaries)
    board["suite"].update({field: payload(field) for field in ("episodes", "attempts", "seed", "fingerprint",
                                                                 "label")})
    page_path = tmp_path / "board.html"
    page_path.write_text(to_html(board))
    with chromium_page() as page:
        page.goto(page_path.as_uri())
        assert_shown_as_text(page, [payload(f) for f in ("episodes", "attempts", "seed", "fingerprint", "label")])
