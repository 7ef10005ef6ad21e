"""Each curriculum against a simulated learner: the behaviour it exists for, and exact resume from its state."""

from __future__ import annotations

import json
import zlib
from collections import Counter

import numpy as np
import pytest

from selfgym.curricula import (
    CURRICULA,
    FixedFamily,
    LadderCurriculum,
    LearnabilityCurriculum,
    LearningProgressCurriculum,
    PrioritizedReplayCurriculum,
    SelfEvolvingCurriculum,
    SimulatedFamily,
    SimulatedLearner,
    UniformCurriculum,
    fingerprint,
)
from selfgym.envs import Task


def play(curriculum, learner, episodes, seed=0):
    rng = np.random.default_rng(seed)
    tasks = []
    for _ in range(episodes):
        task = curriculum.next_task()
        curriculum.update(task, learner.attempt(task, rng))
        tasks.append(task)
    return tasks


def test_ladder_climbs_with_a_learner_and_descends_when_hopeless():
    families = [SimulatedFamily("a", levels=20), SimulatedFamily("b", levels=20)]
    learner = SimulatedLearner(families)
    ladder = LadderCurriculum(families, seed=1)
    history = []
    for _ in range(10):
        play(ladder, learner, 80)
        history.append(ladder.level["a"])
    assert history[-1] >= 4 and history == sorted(history), history  # climbed, never fell back
    assert abs(learner.competence["a"] - ladder.level["a"]) < 1.5  # it tracks the learner's frontier

    hopeless = [SimulatedFamily("h", levels=6, learnable=False, fixed_success=0.05)]
    ladder = LadderCurriculum(hopeless, seed=0, start_level=5)
    play(ladder, SimulatedLearner(hopeless), 200)
    assert ladder.level["h"] == 0


def test_plr_replays_high_score_tasks_most():
    # Tasks 0-2 are solved half the time (high learnability score); 3-9 always or never.
    tasks = [Task(f"t{i}", "fixed", f"task {i}") for i in range(10)]
    p = {f"t{i}": 0.5 if i < 3 else float(i % 2) for i in range(10)}
    plr = PrioritizedReplayCurriculum([FixedFamily("fixed", tasks)], seed=0, buffer_size=10)
    rng = np.random.default_rng(0)
    picks = Counter()
    for episode in range(1500):
        task = plr.next_task()
        plr.update(task, rng.random() < p[task.id])
        if episode >= 500:
            picks[task.id] += 1
    share = sum(picks[f"t{i}"] for i in range(3)) / 1000
    assert share > 0.6, picks  # uniform replay would give 0.3
    keys, probs = plr.replay_probabilities()
    assert probs.sum() == pytest.approx(1.0)


def test_learning_progress_prefers_the_improving_family():
    families = [SimulatedFamily("improving", levels=1), SimulatedFamily("stuck", levels=1, learnable=False,
                                                                        fixed_success=0.0)]
    learner = SimulatedLearner(families, rate=0.03)
    lp = LearningProgressCurriculum(families, seed=0)
    picks = Counter(t.family for t in play(lp, learner, 300)[20:])
    assert picks["improving"] > 2 * picks["stuck"], picks
    assert lp.progress()[0] > lp.progress()[1]


def test_learnability_prefers_arms_solved_half_the_time():
    families = [SimulatedFamily("half", levels=1, learnable=False, fixed_success=0.5),
                SimulatedFamily("solved", levels=1, learnable=False, fixed_success=1.0),
                SimulatedFamily("hopeless", levels=1, learnable=False, fixed_success=0.0)]
    curriculum = LearnabilityCurriculum(families, seed=0)
    picks = Counter(t.family for t in play(curriculum, SimulatedLearner(families), 600)[100:])
    assert picks["half"] > picks["solved"] + picks["hopeless"], picks


def test_self_evolving_keeps_valid_new_tasks_in_the_band():
    families = [SimulatedFamily("a", levels=6), SimulatedFamily("b", levels=6)]
    learner = SimulatedLearner(families)
    judged = []

    def critic(task):
        p = learner.success_probability(task)
        judged.append((fingerprint(task), p))
        return p

    class Repeater:  # proposes the same task again: must be rejected as a duplicate
        def propose(self, failed, rng, n):
            return [Task(failed.id + "-again", failed.family, failed.prompt.upper() + "!", failed.difficulty,
                         dict(failed.data))]

    curriculum = SelfEvolvingCurriculum(
        families, seed=0, critic=critic, writers=[*SelfEvolvingCurriculum(families).writers, Repeater()],
        validator=lambda task: "too hard for the checker" if task.difficulty > 4 else None, phase_length=25)
    initial = len(curriculum.pool)
    play(curriculum, learner, 400)
    stats = curriculum.stats
    assert stats["added"] > 10 and len(curriculum.pool) == initial + stats["added"]
    assert stats["rejected_band"] > 0 and stats["rejected_duplicate"] > 0 and stats["rejected_invalid"] > 0
    assert curriculum.invalid_reasons["too hard for the checker"] == stats["rejected_invalid"]
    critic_of = dict(judged)
    for task in curriculum.pool[initial:]:
        assert 0.05 <= critic_of[fingerprint(task)] <= 0.75 and task.difficulty <= 4
    assert len({fingerprint(t) for t in curriculum.pool}) == len(curriculum.pool)


def test_the_outcome_model_recovers_a_success_curve_and_follows_a_learner():
    from selfgym.curricula.outcome_model import OutcomeModel

    rng = np.random.default_rng(0)
    model = OutcomeModel(half_life=1e9)  # no forgetting: a fixed agent
    for _ in range(2000):
        difficulty = rng.uniform(0, 6)
        success = rng.random() < 1 / (1 + np.exp(-2.0 * (3.0 - difficulty)))  # competence 3, slope -2
        model.observe(Task("t", "f", "p", difficulty), float(success))
    assert model.slope("f") == pytest.approx(-2.0, abs=0.3)
    assert model.predict(Task("t", "f", "p", 3.0)) == pytest.approx(0.5, abs=0.08)
    # data a hard boundary separates (every easy task solved, every hard one failed) stay finite
    separable = OutcomeModel()
    for difficulty in rng.permutation(np.linspace(0, 4, 200)):
        separable.observe(Task("t", "s", "p", float(difficulty)), float(difficulty < 2))
    assert -50 < separable.slope("s") < 0 and separable.predict(Task("t", "s", "p", 1.0)) > 0.8
    # a learner that improves: the recent outcomes move the prediction (half-life 16 outcomes)
    follower = OutcomeModel()
    for competence in (1.0, 4.0):
        for _ in range(150):
            difficulty = rng.uniform(0, 6)
            follower.observe(Task("t", "g", "p", difficulty),
                             float(rng.random() < 1 / (1 + np.exp(-2.0 * (competence - difficulty)))))
    assert follower.predict(Task("t", "g", "p", 4.0)) == pytest.approx(0.5, abs=0.2)


@pytest.mark.parametrize("noisy_tv", [False, True])
def test_self_evolving_beats_uniform_on_the_simulated_learner(noisy_tv):
    def competence(name, seed):
        families = [SimulatedFamily(f"skill{i}", levels=10) for i in range(3)]
        if noisy_tv:  # coin flips that practice never improves: p(1 - p) alone would chase them
            families.append(SimulatedFamily("noisy_tv", levels=10, learnable=False))
        learner = SimulatedLearner(families)
        tasks = play(CURRICULA[name](families, seed=seed), learner, 600, seed=10_000 + seed)
        return learner.mean_competence(), sum(t.family == "noisy_tv" for t in tasks) / len(tasks)

    for seed in range(2):
        evolving, on_tv = competence("self_evolving", seed)
        uniform, _ = competence("uniform", seed)
        assert evolving > 1.5 * uniform, (evolving, uniform)
        assert on_tv < 0.1


def test_self_evolving_saves_its_pool(tmp_path):
    families = [SimulatedFamily("a", levels=3)]
    curriculum = SelfEvolvingCurriculum(families, seed=0, phase_length=10)
    play(curriculum, SimulatedLearner(families), 60)
    curriculum.save_pool(tmp_path / "pool.jsonl")
    lines = (tmp_path / "pool.jsonl").read_text().splitlines()
    assert [Task.from_json(line) for line in lines] == curriculum.pool


@pytest.mark.parametrize("name", sorted(CURRICULA))
def test_state_dict_resumes_exactly(name):
    def fresh():
        families = [SimulatedFamily("a", levels=4), SimulatedFamily("b", levels=4)]
        return CURRICULA[name](families, seed=3)

    def outcome(task):  # deterministic in the task, so both runs see the same outcomes
        return zlib.crc32(task.id.encode()) % 3 == 0

    def run(curriculum, episodes):
        ids = []
        for _ in range(episodes):
            task = curriculum.next_task()
            curriculum.update(task, outcome(task))
            ids.append(task.id)
        return ids

    original = fresh()
    run(original, 120)
    state = json.loads(json.dumps(original.state_dict()))  # must survive JSON
    continued = run(original, 60)
    resumed = fresh()
    resumed.load_state_dict(state)
    assert run(resumed, 60) == continued


def test_bad_outcomes_and_configs_are_clear():
    families = [SimulatedFamily("a")]
    curriculum = UniformCurriculum(families)
    task = curriculum.next_task()
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        curriculum.update(task, 3.0)
    with pytest.raises(TypeError, match="must be a number"):
        curriculum.update(task, "yes")
    curriculum.update(task, {"reward": 1.0})
    with pytest.raises(ValueError, match="unique"):
        UniformCurriculum([SimulatedFamily("a"), SimulatedFamily("a")])
    with pytest.raises(ValueError, match="lower_below < raise_above"):
        LadderCurriculum(families, raise_above=0.2, lower_below=0.5)


def test_llm_task_writer_and_math_validator():
    from selfgym.agents import ScriptedPolicy
    from selfgym.curricula.writers import LLMTaskWriter, math_task_validator

    reply = """Here you go:
```json
[{"prompt": "What is 3 + 4?", "answer": "7"},
 {"prompt": "Simplify 2/4.", "answer": "\\\\frac{1}{2}"},
 {"prompt": "A question with no answer"},
 {"prompt": "Name a colour", "answer": "%%%"}]
```"""
    writer = LLMTaskWriter(ScriptedPolicy([reply]), "math")
    failed = Task("f/1", "arith", "What is 2 + 2?", 1)
    tasks = writer.propose(failed, np.random.default_rng(0), 4)
    assert [t.prompt for t in tasks] == ["What is 3 + 4?", "Simplify 2/4.", "Name a colour"]
    assert writer.malformed == 1 and all(t.family == "arith" and t.difficulty == 1 for t in tasks)
    assert [math_task_validator(t) for t in tasks] == [None, None, "the answer cannot be parsed by math-verify"]
    assert LLMTaskWriter(ScriptedPolicy(["no JSON at all"]), "math").propose(failed, np.random.default_rng(0), 2) == []


@pytest.mark.docker
def test_code_tasks_written_by_an_llm_are_kept_only_if_their_solution_passes(sandbox_image):
    from selfgym.agents import ScriptedPolicy
    from selfgym.curricula.writers import CodeTaskValidator, LLMTaskWriter

    items = [
        {"prompt": "Return the square of x.", "solution": "def square(x):\n    return x * x",
         "tests": ["assert square(3) == 9", "assert square(-2) == 4"]},
        {"prompt": "Return the cube of x.", "solution": "def cube(x):\n    return x * x",
         "tests": ["assert cube(2) == 8"]},
    ]
    writer = LLMTaskWriter(ScriptedPolicy([json.dumps(items)]), "code")
    tasks = writer.propose(Task("HumanEval/0", "humaneval", "..."), np.random.default_rng(0), 2)
    validator = CodeTaskValidator(image=sandbox_image)
    try:
        verdicts = [validator(task) for task in tasks]
    finally:
        validator.close()
    assert verdicts[0] is None and "fails its own tests" in verdicts[1]
