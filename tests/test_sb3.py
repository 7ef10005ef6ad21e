"""Stable-Baselines3 on selfgym: the candidate-choice wrapper (featuriser, masks, SB3's env checker, PPO
learning to pick the right candidate) and the curriculum-teacher env (checker, the reward is learning
progress)."""

from __future__ import annotations

import numpy as np
import pytest
from stable_baselines3 import PPO
from stable_baselines3.common.env_checker import check_env

from selfgym.agents.policy import ScriptedPolicy
from selfgym.agents.sb3 import (CandidateChoiceWrapper, CurriculumTeacherEnv, HashingFeaturizer,
                                PolicyCandidates, TaskCandidates)
from selfgym.curricula import SimulatedFamily
from selfgym.envs import Task, TaskList, TextEnv, Turn

WORDS = ["apple", "river", "stone", "cloud", "tiger", "piano", "lemon", "forest", "candle", "rocket",
         "silver", "garden", "window", "planet", "bridge", "coffee"]


def word_tasks(count: int, seed: int, k: int = 4) -> list[Task]:
    rng = np.random.default_rng(seed)
    tasks = []
    for i in range(count):
        options = [str(w) for w in rng.choice(WORDS, size=k, replace=False)]
        target = options[int(rng.integers(k))]
        tasks.append(Task(f"word{seed}-{i}", "word", f"Repeat the word: {target}",
                          data={"answer": target, "candidates": options}))
    return tasks


class RepeatWordEnv(TextEnv):
    """Reply with the word the task names: reward 1. The task lists candidate replies, one of them right."""

    uses_sandbox = False

    def __init__(self, tasks: list[Task], max_steps: int = 1):
        super().__init__(TaskList(tasks, "word"), max_steps=max_steps)

    def _begin(self, task):
        return task.prompt, {}

    def _act(self, action):
        right = action.strip() == self.task.data["answer"]
        feedback = "Right." if right else f"Wrong: expected one word, got {action[:40]!r}"
        return Turn(feedback, float(right), right)


@pytest.fixture(autouse=True)
def one_thread(torch_one_thread):
    """Every test here runs with one torch thread (see conftest)."""


def test_hashing_featurizer():
    featurize = HashingFeaturizer(dim=64)
    a, b = featurize("Repeat the word: apple"), featurize("Repeat the word: apple")
    assert a.dtype == np.float32 and a.shape == (64,) and np.allclose(a, b)
    assert np.linalg.norm(a) == pytest.approx(1.0) and np.abs(a).max() <= 1.0
    assert float(a @ featurize("apple")) > float(a @ featurize("rocket"))  # shared words are near
    assert not featurize("").any()


def test_featurizer_is_stable_across_processes():
    """CRC-32, not hash(): the same vector whatever PYTHONHASHSEED a process has."""
    import subprocess
    import sys

    code = ("from selfgym.agents.sb3 import HashingFeaturizer; "
            "print(HashingFeaturizer(dim=32)('Repeat the word: apple').round(5).tolist())")
    outputs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                              env={"PYTHONHASHSEED": str(seed)}).stdout for seed in (1, 2)}
    assert len(outputs) == 1
    assert outputs.pop().strip() == str(HashingFeaturizer(dim=32)("Repeat the word: apple").round(5).tolist())


def test_candidate_wrapper_passes_sb3_check_and_masks_empty_slots():
    tasks = word_tasks(5, seed=0, k=3)  # three candidates for four slots
    env = CandidateChoiceWrapper(RepeatWordEnv(tasks), TaskCandidates(), k=4,
                                 featurizer=HashingFeaturizer(dim=32))
    check_env(env, warn=True)
    observation, info = env.reset(seed=0)
    assert env.observation_space.contains(observation)
    assert info["candidates"] == env.unwrapped.task.data["candidates"]
    assert env.action_masks().tolist() == [True, True, True, False]
    assert observation[-4:].tolist() == [1, 1, 1, 0]  # which slots hold a candidate
    answer = info["candidates"].index(env.unwrapped.task.data["answer"])
    similarities = observation[32 * 5:32 * 5 + 3]
    assert int(np.argmax(similarities)) == answer  # the observation names the right word
    _, reward, terminated, _, info = env.step(answer)
    assert (reward, terminated, info["chosen"]) == (1.0, True, env.unwrapped.task.data["answer"])
    env.reset(seed=1)
    _, reward, terminated, truncated, info = env.step(3)  # the empty slot: an empty reply, judged by the env
    assert reward == 0.0 and info["chosen"] == "" and "expected one word" in info["observation"]
    assert truncated and not terminated


def test_policy_candidates_from_a_policy_over_several_turns():
    policy = ScriptedPolicy(lambda messages: f"guess {len(messages)}")  # the conversation grows each turn
    tasks = word_tasks(3, seed=1)
    env = CandidateChoiceWrapper(RepeatWordEnv(tasks, max_steps=2), PolicyCandidates(policy, k=3), k=3)
    check_env(env, warn=True)
    _, info = env.reset(seed=0)
    assert info["candidates"] == ["guess 2"]  # three samples, one distinct reply
    assert env.action_masks().tolist() == [True, False, False]
    _, _, terminated, truncated, info = env.step(0)
    assert not (terminated or truncated) and info["candidates"] == ["guess 4"]
    assert policy.calls[-1][-2] == {"role": "assistant", "content": "guess 2"}


def choose_rate(env, choose, episodes: int, seed: int) -> float:
    wins = 0.0
    for episode in range(episodes):
        observation, _ = env.reset(seed=seed + episode)
        _, reward, *_ = env.step(choose(observation, env))
        wins += reward
    return wins / episodes


def test_ppo_learns_to_pick_the_right_candidate_better_than_chance():
    featurizer = HashingFeaturizer(dim=64)
    train_env = CandidateChoiceWrapper(RepeatWordEnv(word_tasks(400, seed=0)), TaskCandidates(), k=4,
                                       featurizer=featurizer)
    model = PPO("MlpPolicy", train_env, n_steps=256, batch_size=64, learning_rate=1e-3, seed=0, device="cpu")
    model.learn(total_timesteps=2048)  # 0.27 (chance) -> 0.90 on held-out tasks
    held_out = CandidateChoiceWrapper(RepeatWordEnv(word_tasks(200, seed=1)), TaskCandidates(), k=4,
                                      featurizer=featurizer)
    rng = np.random.default_rng(0)
    chance = choose_rate(held_out, lambda obs, env: int(rng.integers(4)), 200, seed=0)
    learnt = choose_rate(held_out, lambda obs, env: int(model.predict(obs, deterministic=True)[0]), 200,
                         seed=0)
    assert learnt > chance + 0.4, (chance, learnt)


def test_maskable_ppo_never_picks_an_empty_slot():
    from sb3_contrib import MaskablePPO

    env = CandidateChoiceWrapper(RepeatWordEnv(word_tasks(50, seed=2, k=2)), TaskCandidates(), k=4,
                                 featurizer=HashingFeaturizer(dim=16))
    model = MaskablePPO("MlpPolicy", env, n_steps=64, batch_size=32, seed=0, device="cpu")
    model.learn(total_timesteps=128)
    for seed in range(20):
        observation, _ = env.reset(seed=seed)
        action, _ = model.predict(observation, action_masks=env.action_masks(), deterministic=False)
        assert int(action) < 2


def test_curriculum_teacher_env():
    env = CurriculumTeacherEnv(steps_per_episode=40)
    check_env(env, warn=True)
    assert env.action_space.n == 10 and env.observation_space.shape == (21,)

    def episode_return(choose) -> float:
        env.reset(seed=0)
        total, done = 0.0, False
        while not done:
            observation, reward, terminated, truncated, info = env.step(choose())
            total += reward
            done = terminated or truncated
        # the return is the student's gain in score
        assert total == pytest.approx(info["score"] - env.evaluate(env.student_factory()))
        return total

    hardest = episode_return(lambda: 4)  # arithmetic at level 4: hopeless at first, so nothing is learnt
    easiest = episode_return(lambda: 0)
    assert easiest > 5 * max(hardest, 1e-3) and easiest > 0


def test_curriculum_teacher_with_a_callable_student_and_online_progress():
    def new_student():
        practice = [0]

        def student(task, rng):  # gets better with practice, on any task
            practice[0] += 1
            return float(rng.random() < min(1.0, practice[0] / 100))

        return student

    env = CurriculumTeacherEnv([SimulatedFamily("a", levels=2)], new_student, attempts_per_step=20,
                               steps_per_episode=4)
    check_env(env, warn=True)
    env.reset(seed=0)
    rewards = [env.step(0)[1] for _ in range(3)]
    assert rewards[0] == 0.0  # first time on the arm: no earlier score to compare with
    assert sum(rewards[1:]) > 0
