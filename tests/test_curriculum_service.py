"""``selfgym env-server --curriculum``: real server subprocesses, real clients (Remote-v0 as a GRPO loop drives it,
TRL's ``tool_environment``), the server's own verifier deciding every outcome; the curriculum kept in the store
across a kill -9, shared by two servers on one real PostgreSQL, and its dashboard in headless Chromium."""

from __future__ import annotations

import json
import threading
import urllib.request

import gymnasium as gym
import numpy as np
import pytest
from env_servers import env_server
from pg_cluster import postgres_cluster
from openenv.core import GenericEnvClient
from test_eval_leaderboard import chromium_page

import selfgym  # noqa: F401
from selfgym.agents.trl_env import tool_environment
from selfgym.curricula.store import CurriculumStore
from selfgym.envs.task import Task

SKILLED, MIXED = "basic_arithmetic", "gcd"  # the scripted learner: always right, right half the time, else wrong


@pytest.fixture(scope="module")
def answers() -> dict[str, str]:
    env = gym.make("selfgym/Math-v0")
    try:
        return {task.id: str(task.data["answer"]) for task in env.unwrapped.source}
    finally:
        env.close()


def learner_answer(task, answers: dict[str, str], rng: np.random.Generator) -> str:
    right = task.family == SKILLED or (task.family == MIXED and rng.random() < 0.5)
    return answers[task.id] if right else "-123456789"


def play_remote(url: str, episodes: int, answers: dict[str, str], seed: int, families: list[str],
                token: str | None = None) -> None:
    """A GRPO-style loop through Remote-v0: reset without a task (the server's curriculum picks), answer."""
    env = gym.make("selfgym/Remote-v0", url=url, token=token)
    rng = np.random.default_rng(seed)
    try:
        for _ in range(episodes):
            env.reset()
            task = env.unwrapped.task
            families.append(task.family)
            answer = learner_answer(task, answers, rng)
            _, _, terminated, truncated, _ = env.step(f"The answer is \\boxed{{{answer}}}.")
            assert terminated or truncated
    finally:
        env.close()


def play_trl(url: str, episodes: int, answers: dict[str, str], seed: int, families: list[str]) -> None:
    """TRL's environment_factory against the server: a dataset row without a task id, then the answer tool."""
    env = tool_environment(url=url)()
    rng = np.random.default_rng(seed)
    try:
        for _ in range(episodes):
            env.reset(prompt=[{"role": "user", "content": ""}])
            task = env._env.unwrapped.task
            families.append(task.family)
            env.answer(answer=learner_answer(task, answers, rng))
            assert env.get_reward() in (0.0, 1.0)
    finally:
        env._close()


def play_together(url: str, episodes: int, answers: dict[str, str]) -> list[str]:
    """Both trainers at once, ``episodes`` each; the families they were given, in order."""
    families: list[str] = []
    errors: list[BaseException] = []

    def guarded(play, seed):
        try:
            play(url, episodes, answers, seed, families)
        except BaseException as exc:  # noqa: BLE001 - re-raised below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(play, seed)) for seed, play in enumerate((play_remote, play_trl))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    if errors:
        raise errors[0]
    return families


HOSTILE = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">what is 1+1?'


def test_two_trainers_share_one_curriculum_that_survives_a_kill_and_shows_in_a_dashboard(tmp_path, answers):
    spec = tmp_path / "curriculum.yaml"
    spec.write_text("name: self_evolving\nparams: {phase_length: 12}\n")
    database = str(tmp_path / "curriculum.db")
    args = ["--max-sessions", "4", "--curriculum", str(spec), "--curriculum-db", database, "--model", "scripted"]
    with env_server("selfgym/Math-v0", *args) as server:
        families = play_together(server.url, 30, answers)
        state = server.get("/curriculum")
        with GenericEnvClient(base_url=server.url).sync() as client:  # openenv-core's client, unchanged
            result = client.reset()
            assert result.observation["task"]["family"] in state["families"]
            assert client.step({"text": "The answer is \\boxed{-1}."}).done
        # a trainer's own choice still wins: a reset with a task id plays that task (and counts)
        env = gym.make("selfgym/Remote-v0", url=server.url)
        env.reset(options={"task_id": "lcm/L0/s0/1"})
        assert env.unwrapped.task.id == "lcm/L0/s0/1"
        env.step("The answer is \\boxed{-1}.")
        env.close()
        before = server.get("/curriculum")
        request = urllib.request.Request(server.url + "/Math-v0/tasks", data=b'{"split": "train"}',
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as reply:
            listed = json.loads(reply.read())
        # the task API says what the curriculum knows of each task
        assert sum(stats["plays"] for stats in listed["curriculum"].values()) == 62
        assert {"plays", "successes", "draws", "predicted"} <= set(next(iter(listed["curriculum"].values())))
        server.process.kill()  # kill -9: no shutdown, nothing flushed on the way out
        server.process.wait()
    assert state["episodes"] == 60 and state["run"] == "Math-v0-self_evolving" and state["model"] == "scripted"
    assert sum(family["plays"] for family in state["families"].values()) == 60
    # the outcome model learned the learner from both trainers' outcomes
    predicted = {name: family["predicted_by_level"][0] for name, family in state["families"].items()}
    wrong = max(p for name, p in predicted.items() if name not in (SKILLED, MIXED))
    assert wrong < 0.35 and predicted[MIXED] > wrong + 0.1, predicted
    if state["families"][SKILLED]["plays"]:  # rarely drawn once the curriculum knows it is mastered
        assert predicted[SKILLED] > predicted[MIXED], predicted
    # the draws follow the shared outcomes: the family the learner is still learning is the likeliest next draw,
    # the mastered one is less likely than under uniform draws
    chances = {name: family["draw_probability"] for name, family in state["families"].items()}
    assert max(chances, key=chances.get) == MIXED and chances[SKILLED] < 1 / 6, chances
    assert len(families) == 60 and set(families) <= set(chances)
    assert before["episodes"] == 62 and before["unrecorded"] == 0

    store = CurriculumStore(database)
    [run] = store.runs()
    assert store.counts(run.id)["outcomes"] == 62
    written = store.tasks(run.id, origin="written")
    assert written, "the self-evolving curriculum wrote no task in 5 phases"
    store.add_written(run.id, Task("hostile-1", SKILLED, HOSTILE, 0), fingerprint="hostile", audit_verdict="<b>x</b>")

    with env_server("selfgym/Math-v0", *args) as server:  # the same database after the kill
        after = server.get("/curriculum")
        assert after["episodes"] == 62 and after["folded"] == 62  # nothing lost, nothing counted twice
        play_together(server.url, 2, answers)
        assert server.get("/curriculum")["episodes"] == 66
        with chromium_page() as page:
            problems: list[str] = []
            page.on("pageerror", lambda exc: problems.append(str(exc)))
            page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
            page.on("dialog", lambda dialog: problems.append(f"dialog {dialog.message}"))
            page.goto(server.url + "/dashboard")
            page.wait_for_function("document.body.dataset.plots === '2'")  # the page's script ran
            assert page.locator("svg.plot polyline").count() >= 3  # success lines of several families
            assert page.locator("svg.plot rect").count() >= 10  # the draws' bars
            for plot in page.locator("svg.plot").all():
                box = plot.bounding_box()
                assert box["width"] > 500 and box["height"] > 200
            assert page.evaluate("window.__pwned") is None
            text = page.locator("#written").inner_text()
            assert HOSTILE in text and "<b>x</b>" in text  # shown as text, not run
            assert page.locator("#written img").count() == 0
            assert page.locator("#families tr").count() == 1 + 6
            page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
            assert not problems, problems
    store.close()


def test_two_servers_share_one_postgresql_curriculum(tmp_path, answers):
    from click.testing import CliRunner

    from selfgym.cli import main

    result = CliRunner().invoke(main, ["env-server", "selfgym/Math-v0", "--curriculum", "ladderr"])
    assert result.exit_code == 2 and "unknown curriculum 'ladderr'" in result.output
    with postgres_cluster() as url:
        args = ["--max-sessions", "4", "--curriculum", "self_evolving", "--curriculum-db", url, "--curriculum-run",
                "shared", "--model", "scripted"]
        with env_server("selfgym/Math-v0", *args, token="s3cret") as first, \
                env_server("selfgym/Math-v0", *args, token="s3cret") as second:
            for path in ("/curriculum", "/dashboard"):  # the token guards the curriculum's routes too
                with pytest.raises(urllib.request.HTTPError) as refused:
                    urllib.request.urlopen(first.url + path, timeout=30)
                assert refused.value.code == 401
            errors: list[BaseException] = []

            def trainer(server, seed):
                try:
                    play_remote(server.url, 12, answers, seed, [], token="s3cret")
                except BaseException as exc:  # noqa: BLE001
                    errors.append(exc)

            threads = [threading.Thread(target=trainer, args=(server, seed))
                       for seed, server in enumerate((first, second, first, second))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=600)
            assert not errors, errors
            views = [first.get("/curriculum"), second.get("/curriculum")]
        for view in views:  # each server decides from every outcome, its own and the other's
            assert view["episodes"] == 48 and view["run"] == "shared"
            assert sum(family["plays"] for family in view["families"].values()) == 48
        assert views[0]["server"] != views[1]["server"]
        store = CurriculumStore(url)
        [run] = store.runs()
        assert store.counts(run.id)["outcomes"] == 48
        store.close()


def test_selfgym_run_and_an_env_server_continue_one_curriculum(tmp_path, answers):
    from click.testing import CliRunner
    from experiment_runs import experiment
    from rich.console import Console

    from selfgym.cli import main
    from selfgym.experiments import ExperimentRunner, load_experiment

    database = str(tmp_path / "c.db")
    path = experiment(tmp_path, tmp_path / "unused", name="shared-run", env={
        "id": "selfgym/Math-v0", "parallel": 2, "kwargs": {"max_steps": 1, "tools": False}},
        agent={"backend": "scripted", "model": "oracle"}, method={"name": "eval-only"}, budget={"episodes": 6},
        eval={"tasks": 2}, curriculum={"name": "ladder", "store": database, "run": "shared"})
    ExperimentRunner(load_experiment(path), console=Console(quiet=True)).run()
    store = CurriculumStore(database)
    [run] = store.runs()
    assert (run.name, run.model, store.counts(run.id)["outcomes"]) == ("shared", "scripted:oracle", 6)
    args = ["--curriculum", "ladder", "--curriculum-db", database, "--curriculum-run", "shared"]
    with env_server("selfgym/Math-v0", *args) as server:
        assert server.get("/curriculum")["episodes"] == 6  # the server continues the experiment's curriculum
        play_remote(server.url, 3, answers, 0, [])
        assert server.get("/curriculum")["episodes"] == 9
    # and another experiment on the same curriculum run starts from the server's outcomes
    second = experiment(tmp_path, tmp_path / "unused", name="second-run", env={
        "id": "selfgym/Math-v0", "parallel": 2, "kwargs": {"max_steps": 1, "tools": False}},
        agent={"backend": "scripted", "model": "oracle"}, method={"name": "eval-only"}, budget={"episodes": 2},
        eval={"tasks": 2}, curriculum={"name": "ladder", "store": database, "run": "shared"})
    runner = ExperimentRunner(load_experiment(second), console=Console(quiet=True))
    runner.run()
    assert runner.state["curriculum"]["episodes"] == 11  # 6 + 3 + its own 2, folded from the store
    assert store.counts(run.id)["outcomes"] == 11
    result = CliRunner().invoke(main, ["curriculum", "show", database, "--html", str(tmp_path / "d.html")])
    assert result.exit_code == 0 and "run shared: ladder, model scripted:oracle, 11 outcomes" in result.output
    assert "<svg" in (tmp_path / "d.html").read_text()
    result = CliRunner().invoke(main, ["curriculum", "show", str(tmp_path / "none.db")])
    assert result.exit_code == 2 and "no curriculum store at" in result.output
    store.close()
