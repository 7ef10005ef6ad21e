"""Answers that try to win without knowing: lists of every candidate, hedges ("X or Y"), number lists and ranges,
the right answer hidden in a longer list, one post per candidate, ticking every box. Each is played as an attack
through the public API (``gym.make("selfgym/Web-v0")``, ``gym.make("selfgym/Shell-v0")``) and must earn 0,
while reference and natural correct answers still earn 1. The gaming answers come from
:mod:`answer_gaming`, with the candidates taken from the sites' data.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import gymnasium as gym
import pytest
from answer_gaming import assert_refuses_gaming, gaming_answers, generic_distractors

import selfgym  # registers the ids
from selfgym.envs.shell import parse_submit
from selfgym.envs.shell import shipped_tasks as shell_tasks
from selfgym.envs.web import parse_action
from selfgym.envs.web.checks import AnswerCheck, Check, check_answer, evaluate, words
from selfgym.envs.web.elements import elements, find
from selfgym.envs.web.miniwob import STATUS_SCRIPT, miniwob_tasks
from selfgym.envs.web.reference import ReferencePolicy
from selfgym.envs.web.sites import forum_data, shop_data, wiki_data
from selfgym.envs.web.tasks import shipped_tasks as web_tasks
from selfgym.envs.web.tasks import spec_of, task_from_entry

WEB = {task.id: task for task in web_tasks()}
ANSWER_TASKS = [task for task in WEB.values() if spec_of(task).check.answer is not None]


# --- the candidates a policy could list, from the sites' data ---------------------------------------------------

def _wiki_titles(*categories: str) -> list[str]:
    return [title for _, title, category, *_ in wiki_data.PAGES if category in categories]


REVIEWERS = sorted({author for _, author, _, _ in shop_data.REVIEWS}) + [shop_data.CUSTOMER[1]]
WIKI_EDITORS = sorted({author for *_, revisions in wiki_data.PAGES for author, *_ in revisions})
PLACES = _wiki_titles("Towns", "Rivers", "Landmarks")
CANDIDATES = {
    "web/shop-009": sorted({status for _, _, status, _, _ in shop_data.ORDERS}) + ["Cancelled"],
    "web/shop-011": [name for _, name, category, *_ in shop_data.PRODUCTS if category == "audio"],
    "web/shop-014": REVIEWERS,
    "web/shop-015": [placed_on for _, placed_on, *_ in shop_data.ORDERS],
    "web/forum-007": [name for name, *_ in forum_data.USERS],
    "web/forum-010": [title for _, forum, _, title, *_ in forum_data.POSTS if forum == "cooking"],
    "web/forum-012": ["late blight", "septoria leaf spot", "fusarium wilt", "powdery mildew", "nitrogen deficiency"],
    "web/wiki-008": _wiki_titles("People") + WIKI_EDITORS + [wiki_data.CURRENT_USER],
    "web/wiki-013": PLACES,
    "web/wiki-014": WIKI_EDITORS + [wiki_data.CURRENT_USER],
    "web/wiki-015": _wiki_titles("Rivers"),
    "web/wiki-016": PLACES,
}


def reference_answer(task) -> str:
    return parse_action(task.data["reference"][-1]).text


def distractors(task) -> list[str]:
    """The task's other candidates: all of its kind in the sites' data that the reference or the prompt does not
    name already (an answer may repeat the question's subject), or neighbours of a number."""
    named = f" {' '.join(words(reference_answer(task)))} | {' '.join(words(task.prompt))} "
    if task.id not in CANDIDATES:
        return generic_distractors(re.sub(r"[$,]", "", reference_answer(task)))
    return [c for c in CANDIDATES[task.id] if f" {' '.join(words(c))} " not in named]


def judge(task, answer: str) -> bool:
    """The task's answer check, as the environment runs it (only the answer: no url or sql part)."""
    return check_answer(spec_of(task).check.answer, answer, task.prompt)[0]


# --- Web-v0: the check the environment runs, without the environment --------------------------------------------

def test_every_question_has_its_candidates_or_is_a_number():
    uncovered = [t.id for t in ANSWER_TASKS if t.id not in CANDIDATES and spec_of(t).check.answer.number is None]
    assert not uncovered, f"name the candidates of these tasks in CANDIDATES: {uncovered}"


@pytest.mark.parametrize("task_id, answer", [
    ("web/shop-002", "$1,499.00"), ("web/shop-002", "1499"), ("web/shop-002", "It costs $1,499."),
    ("web/shop-010", "The total was $264.00"), ("web/shop-010", "The total of order #1002 was $264.00"),
    ("web/shop-012", "4.3 out of 5"), ("web/shop-012", "4.3/5 stars"), ("web/wiki-007", "48,210"),
    ("web/wiki-007", "48210 people"), ("web/wiki-011", "37 people died in the flood of 1894"),
    ("web/shop-014", "Zoe D."), ("web/shop-014", "Zoe"), ("web/shop-014", "zoë d"),
    ("web/wiki-015", "River Sunn"), ("web/wiki-015", "The Sunn."), ("web/wiki-016", "Port Kelwick and Vellmar"),
    ("web/wiki-016", "From Port Kelwick to Vellmar"), ("web/wiki-016", "between Port Kelwick and Vellmar"),
    ("web/wiki-016", "Vellmar / Port Kelwick"), ("web/wiki-008", "It was founded by Edda Kelwick."),
    ("web/forum-012", "Mira thinks it is early blight"), ("web/forum-012", "Early-blight"),
    ("web/wiki-013", "Carn Dubh (912 m)"), ("web/shop-009", "shipped."),
])
def test_natural_correct_answers_pass(task_id, answer):
    assert judge(WEB[task_id], answer), check_answer(spec_of(WEB[task_id]).check.answer, answer, WEB[task_id].prompt)


@pytest.mark.parametrize("task_id, answer", [
    ("web/shop-014", "Alex, Ben, Chris, Zoe"),            # the example
    ("web/shop-014", "Zoe or someone else"),              # a hedge without a second name
    ("web/shop-014", "Zoe Ken Sam"),                      # real candidates, no separators
    ("web/wiki-015", "The Sunn, not the Ardle"),          # a distractor, even ruled out
    ("web/wiki-015", "sunny"),                            # a phrase matches whole words only
    ("web/wiki-016", "Port Kelwick"),                     # both towns are needed
    ("web/shop-002", "1499-1500"), ("web/shop-002", "1,499 or 1,500"), ("web/shop-002", "1499,1500"),
    ("web/shop-002", "x1500 1499"),                       # digits glued to letters still count
    ("web/shop-002", "$1,499.00 (was 1,599.00)"),         # any other number
    ("web/forum-011", "2022-05-21"),                      # a date has three numbers
    ("web/shop-012", "4.3 to 4.5"), ("web/wiki-007", "48,210 or 12,904"),
    ("web/forum-012", "early blight late blight"),
])
def test_gaming_answers_fail(task_id, answer):
    assert not judge(WEB[task_id], answer)


def test_number_words_are_not_read_so_they_never_make_a_hedge_pass():
    hedge = "fifteen hundred or 1499"  # one number written with digits: it passes for 1499 and for no other truth
    assert check_answer(AnswerCheck(number=1499), hedge)[0]
    assert not check_answer(AnswerCheck(number=1500), hedge)[0]


def test_checks_that_could_not_work_are_refused_when_loaded():
    entry = {"id": "x", "category": "information", "sites": ["shop"], "reference": ['answer("Zoe")']}
    with pytest.raises(ValueError, match="overlaps must_include"):
        task_from_entry({**entry, "prompt": "Who?", "check": {"answer": {"must_include": ["Zoe D"],
                                                                          "must_exclude": ["Zoe"]}}})
    with pytest.raises(ValueError, match="must_exclude goes with must_include"):
        task_from_entry({**entry, "prompt": "Who?", "check": {"answer": {"exact": ["Zoe"], "must_exclude": ["K"]}}})
    with pytest.raises(ValueError, match="reference's answer fails"):
        task_from_entry({**entry, "prompt": "Who?", "check": {"answer": {"must_include": ["Zoe"],
                                                                          "must_exclude": ["Ken"]}},
                         "reference": ['answer("Zoe or Ken")']})
    with pytest.raises(ValueError, match="expected number 3 is in its prompt"):
        task_from_entry({**entry, "prompt": "How many of the 3 laptops are in stock?",
                         "check": {"answer": {"number": 3}}, "reference": ['answer("3")']})
    with pytest.raises(ValueError, match="exactly one of expect"):
        Check.model_validate({"sql": [{"db": "forum", "query": "SELECT 1"}]})


def test_a_sql_value_is_judged_like_an_answer():
    import sqlite3

    check = Check.model_validate({"sql": [{"db": "forum", "query": "SELECT body FROM posts",
                                           "answer": {"number": 42}}]})

    def verdict(*bodies: str) -> bool:
        conn = sqlite3.connect(":memory:")
        conn.execute("CREATE TABLE posts (body TEXT)")
        conn.executemany("INSERT INTO posts VALUES (?)", [(b,) for b in bodies])
        return evaluate(check, answer="done", url="http://forum.localhost:9999/", database=lambda _: conn).passed

    assert verdict("The line was 42 km long.")
    assert not verdict("The line was 42 or 61 km long.")
    assert not verdict("42 km", "61 km")  # one post per candidate
    assert not verdict()


def test_task_files_quote_prompts_with_a_hash():
    """YAML reads `` #`` as the start of a comment: ``prompt: What is the status of order #1004?`` loaded as
    "What is the status of order" (five shop tasks and a shell task were cut so), and a number answer may
    repeat the prompt's numbers, so a cut prompt also changes what the check accepts."""
    folder = Path(selfgym.__file__).parent / "envs"
    cut = [f"{path.relative_to(folder)}:{number}" for path in sorted(folder.glob("*/tasks/*.yaml"))
           for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
           if re.match(r"\s*-?\s*prompt: [^'\"|>].* #", line)]
    assert not cut, f"quote these prompts: {cut}"
    assert "#1002" in WEB["web/shop-010"].prompt


# --- Web-v0 through gym.make: each attack class, played ---------------------------------------------------------

@pytest.fixture(scope="module")
def web():
    env = gym.make("selfgym/Web-v0", tasks="all", max_steps=30)
    yield env
    env.close()


def answer_reward(env, task, answer: str) -> float:
    env.reset(options={"task": task})
    _, reward, terminated, _, info = env.step(f"answer({answer!r})")
    assert terminated and info["passed"] is (reward == 1.0)
    return reward


def play(env, task) -> tuple[float, dict]:
    observation, _ = env.reset(options={"task": task})
    policy = ReferencePolicy(task)
    while True:
        observation, reward, terminated, truncated, info = env.step(policy(observation))
        if terminated or truncated:
            return reward, info


@pytest.mark.docker
@pytest.mark.parametrize("task", ANSWER_TASKS, ids=[t.id for t in ANSWER_TASKS])
def test_web_env_refuses_every_gaming_answer(web, task):
    assert_refuses_gaming(lambda answer: answer_reward(web, task, answer) == 1.0, reference_answer(task),
                          distractors(task))


@pytest.mark.docker
def test_web_env_listing_every_reviewer_gets_0(web):
    task = WEB["web/shop-014"]
    assert answer_reward(web, task, ", ".join(REVIEWERS)) == 0.0
    assert answer_reward(web, task, " ".join(name.split()[0] for name in REVIEWERS)) == 0.0
    assert answer_reward(web, task, "Zoe D.") == 1.0


@pytest.mark.docker
@pytest.mark.parametrize("task_id, answer", [
    ("web/shop-010", "The total of order #1002 was $264.00"),  # the prompt's number may be repeated
    ("web/shop-012", "4.3 out of 5"), ("web/wiki-015", "River Sunn"), ("web/wiki-016", "Port Kelwick and Vellmar"),
])
def test_web_env_accepts_natural_answers(web, task_id, answer):
    assert answer_reward(web, WEB[task_id], answer) == 1.0


def _with_post_text(task, text: str, *more_steps: str):
    steps = [f'type(textbox "Text", {text!r})' if s.startswith('type(textbox "Text"') else s
             for s in task.data["reference"]]
    return dataclasses.replace(task, data={**task.data, "reference": [*steps[:-1], *more_steps, steps[-1]]})


@pytest.mark.docker
def test_web_env_a_post_that_lists_candidate_numbers_gets_0(web):
    task = WEB["web/cross-002"]
    reward, info = play(web, _with_post_text(task, "The line was 42 km long, or maybe 61 km."))
    assert reward == 0.0 and any("also gives 61" in line for line in info["check"]), info["check"]
    second_post = ['goto("http://forum.localhost:9999/submit")', 'select(combobox "Forum", "Cycling")',
                   'type(textbox "Title", "Ardle Valley Railway path")', 'type(textbox "Text", "It was 61 km.")',
                   'click(button "Create post")']
    reward, info = play(web, _with_post_text(task, "It was 42 km.", *second_post))  # one post per candidate
    assert reward == 0.0 and any("expected one row" in line for line in info["check"]), info["check"]


@pytest.mark.docker
def test_web_env_ticking_every_checkbox_gets_0(web):
    """MiniWoB's click-checkboxes pays (right - wrong) / boxes; ticking every box is positive whenever most boxes
    are to be ticked. Web-v0 pays only a full solve."""
    task = next(iter(miniwob_tasks(["click-checkboxes"])))
    for seed in range(60):
        observation, _ = web.reset(seed=seed, options={"task": task})
        goal = re.search(r"^Goal: Select (.*) and click Submit\.$", observation, re.MULTILINE)
        assert goal, observation
        goal = goal[1]
        boxes = [i for i, role, _ in elements(observation) if role == "checkbox"]
        wanted = 0 if goal == "nothing" else len(goal.split(", "))
        if len(boxes) / 2 < wanted < len(boxes):
            break
    else:
        pytest.fail("no seed in 0..59 draws a problem where most, but not all, boxes are to be ticked")
    for box in boxes:
        web.step(f"click({box})")
    _, reward, terminated, _, info = web.step(f"click({find(observation, 'button', 'Submit')})")
    _, raw, _ = web.unwrapped._browser.evaluate(STATUS_SCRIPT)
    assert terminated and raw > 0, "the page itself gives partial credit"
    assert reward == 0.0 and not info["passed"]


# --- Shell-v0: every shipped `submit <answer>` task ---------------------------------------------------------------

# Wrong candidates an agent meets while solving (the other port, the count with hidden files left out, ...).
SHELL_DISTRACTORS = {
    "shell/archives-004": ["nothing here", "quartz-harbor"],
    "shell/files-008": ["4", "5", "7"],
    "shell/files-010": ["access.log", "worker-1.log", "app.log"],
    "shell/git-003": ["add log level", "raise timeout", "initial settings"],
    "shell/processes-005": ["5000", "12D1"],
    "shell/text-004": ["2500", "1500", "3500"],
}
SHELL_ANSWER_TASKS = [task for task in shell_tasks() if parse_submit(task.data["solution"][-1])]


@pytest.fixture(scope="module")
def shell(pool):
    env = gym.make("selfgym/Shell-v0", pool=pool)
    yield env
    env.close()


def submit_reward(env, task, answer: str) -> float:
    env.reset(options={"task_id": task.id})
    _, reward, terminated, _, _ = env.step(f"submit {answer}")
    assert terminated
    return reward


@pytest.mark.docker
@pytest.mark.parametrize("task", SHELL_ANSWER_TASKS, ids=[t.id for t in SHELL_ANSWER_TASKS])
def test_shell_answer_task_refuses_lists_and_hedges(shell, task):
    reference = parse_submit(task.data["solution"][-1])
    candidates = SHELL_DISTRACTORS.get(task.id) or generic_distractors(reference)
    assert_refuses_gaming(lambda answer: submit_reward(shell, task, answer) == 1.0, reference, candidates)


def test_shipped_shell_answer_tasks_are_covered():
    assert len(SHELL_ANSWER_TASKS) >= 6 and set(SHELL_DISTRACTORS) <= {t.id for t in SHELL_ANSWER_TASKS}


def test_gaming_answers_cover_each_attack_class():
    answers = gaming_answers("Zoe", ["Ken"])
    assert answers["hedge with or"] == "Zoe or Ken" and "\n" in answers["every candidate, one per line"]
    assert all("Zoe" in answer and answer != "Zoe" for answer in answers.values())
