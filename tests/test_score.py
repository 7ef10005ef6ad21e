"""SCoRe: two-attempt episodes on the real Math-v0 verifier, the per-attempt loss weights (stage I moves the first
attempt only through its KL term; stage II's shaped reward), and training with a tiny real model that a run cut
off mid stage I and mid stage II resumes exactly; the YAML method runs."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from selfgym.agents import ScriptedPolicy, rollout
from selfgym.agents.grpo import MicroBatch, TokenEpisode, clipped_token_loss
from selfgym.agents.hf import HFPolicy
from selfgym.agents.metrics import read_metrics
from selfgym.agents.score import SCoReConfig, SCoReTrainer, attempt_of_tokens
from selfgym.agents.trajectory import Step, Trajectory
from selfgym.envs import SelfCorrection, Task, TaskList, TextEnv, Turn
from selfgym.envs.math_env import MathEnv
from selfgym.envs.self_correction import ANSWER_AGAIN, CORRECTION_INSTRUCTION, attempt_rewards
from tiny_models import build_tiny_chat_model

SUMS = [Task(f"sum{i}", "sums", f"What is {i} + {i}?", data={"answer": str(2 * i)}) for i in range(1, 9)]


@pytest.fixture(autouse=True)
def one_thread(torch_one_thread):
    """Every test here runs with one torch thread (see conftest)."""


def math_env(**kwargs) -> MathEnv:
    return MathEnv(TaskList(SUMS, "sums"), max_steps=1, tools=False, **kwargs)


# --- two-attempt episodes on the real verifier -----------------------------------------------------------------
def test_two_attempts_are_judged_by_math_v0s_verifier():
    env = SelfCorrection(math_env())
    # wrong, then right: each attempt is judged by Math-v0 (the wrapper pays nothing of its own)
    wrong_then_right = rollout(env, ScriptedPolicy(["\\boxed{5}", "Sorry: \\boxed{4}"]), task=SUMS[1])
    assert [(s.reward, s.info["attempt"], s.info["correct"]) for s in wrong_then_right.steps] == [
        (0.0, 1, False), (1.0, 2, True)]
    assert wrong_then_right.messages[-3:-1] == [{"role": "user", "content": CORRECTION_INSTRUCTION},
                                              {"role": "assistant", "content": "Sorry: \\boxed{4}"}]
    assert attempt_rewards(wrong_then_right.steps) == (0.0, 1.0, False, True)
    # a right first answer is asked about again (right-to-wrong changes count); text claiming success earns nothing
    right_then_wrong = rollout(env, ScriptedPolicy(["\\boxed{4}", "Correct. reward=1 \\boxed{3}"]), task=SUMS[1])
    assert attempt_rewards(right_then_wrong.steps) == (1.0, 0.0, True, False)
    assert right_then_wrong.success is False and right_then_wrong.total_reward == 1.0

    # the env's own feedback between the attempts; a reply with no answer is a judged attempt (reward 0)
    strict = SelfCorrection(math_env(), feedback="env")
    played = rollout(strict, ScriptedPolicy(["I am not sure.", "\\boxed{6}"]), task=SUMS[2])
    assert played.steps[0].info["malformed"] and played.steps[0].reward == 0.0
    assert played.messages[-3]["content"].startswith("Your reply has no final answer.")
    assert played.messages[-3]["content"].endswith(ANSWER_AGAIN)
    assert attempt_rewards(played.steps) == (0.0, 1.0, False, True)

    with pytest.raises(ValueError, match="feedback must be"):
        SelfCorrection(math_env(), feedback="oracle")


# --- the loss: which tokens learn from what ---------------------------------------------------------------------
def two_attempt_episode(r1: float, r2: float) -> TokenEpisode:
    """Prompt 0-2, attempt 1 = ids 3-5, feedback turn 6-7, attempt 2 = ids 8-10."""
    steps = [Step("a", "o", r1, False, False, {"attempt": 1}), Step("b", "o", r2, True, False, {"attempt": 2})]
    trajectory = Trajectory(Task("t", "f", "p"), [], steps)
    mask = [0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1]
    return TokenEpisode(trajectory, list(range(11)), mask, 3, reply_spans=[(3, 6), (8, 11)])


def weights(stage: int, rewards: list[tuple[float, float]], **config):
    config = SCoReConfig(stage1_steps=1, stage2_steps=1, group_size=len(rewards), **config)
    trainer = SimpleNamespace(config=config, stage=stage)
    episodes = [two_attempt_episode(*pair) for pair in rewards]
    advantages, kl_weights, metrics = SCoReTrainer.loss_weights(trainer, episodes)
    return episodes, advantages, kl_weights, metrics


FIRST, SECOND = slice(3, 6), slice(8, 11)


def test_stage_weights_and_the_shaped_reward():
    group = [(0.0, 1.0), (1.0, 0.0), (1.0, 1.0), (0.0, 0.0)]  # i->c, c->i, c->c, i->i
    episodes, advantages, kl, metrics = weights(1, group, beta_1=2.0, beta_2=0.1, scale_rewards=False)
    assert attempt_of_tokens(episodes[0]).tolist() == [0, 0, 0, 1, 1, 1, 0, 0, 2, 2, 2]
    # stage I: attempt 2 learns r2 - mean(r2); attempt 1 learns nothing from the rewards, and is held by beta_1
    assert [a[SECOND][0] for a in advantages] == [0.5, -0.5, 0.5, -0.5]
    assert all(not a[FIRST].any() and not a[:3].any() and not a[6:8].any() for a in advantages)
    assert all((w[FIRST] == 2.0).all() and (w[SECOND] == 0.1).all() for w in kl)
    assert metrics == {"stage": 1, "accuracy_t1": 0.5, "accuracy_t2": 0.5, "delta": 0.0,
                       "incorrect_to_correct": 0.25, "correct_to_incorrect": 0.25}
    # stage II: attempt 1 learns r1; attempt 2 learns r2 + alpha (r2 - r1): 1 + 3, 0 - 3, 1, 0 (mean 0.5)
    _, advantages, kl, metrics = weights(2, group, alpha=3.0, beta_1=2.0, beta_2=0.1, scale_rewards=False)
    assert [a[FIRST][0] for a in advantages] == [-0.5, 0.5, 0.5, -0.5]
    assert [a[SECOND][0] for a in advantages] == [3.5, -3.5, 0.5, -0.5]
    assert all((w[FIRST] == 0.1).all() and (w[SECOND] == 0.1).all() for w in kl)
    assert metrics["stage"] == 2
    # scaled, the group's shaped rewards are normalised after shaping
    _, advantages, _, _ = weights(2, group, alpha=3.0)
    shaped = np.array([4.0, -3.0, 1.0, 0.0])
    np.testing.assert_allclose([a[SECOND][0] for a in advantages],
                               (shaped - shaped.mean()) / (shaped.std() + 1e-4), rtol=1e-6)


def token_gradients(stage: int, rewards: list[tuple[float, float]]) -> tuple[torch.Tensor, torch.Tensor]:
    """The gradient of the step's loss with respect to each token's log-probability, and the KL term's alone."""
    episodes, advantages, kl_weights, _ = weights(stage, rewards, beta_1=2.0, beta_2=0.1)
    batch = MicroBatch.of(episodes, advantages, 0, torch.device("cpu"), kl_weights)
    generator = torch.Generator().manual_seed(0)
    logprobs = (-torch.rand(batch.mask.shape, generator=generator)).requires_grad_()
    reference = logprobs.detach() - 0.3 * torch.rand(batch.mask.shape, generator=generator)
    loss, _, kl = clipped_token_loss(logprobs, logprobs.detach(), batch.advantages, reference, clip_low=0.2,
                                     clip_high=0.2, kl_beta=batch.kl_weights)
    (loss * batch.mask).sum().backward()
    kl_only = logprobs.detach().clone().requires_grad_()
    log_ratio = reference - kl_only
    ((torch.exp(log_ratio) - log_ratio - 1) * batch.kl_weights * batch.mask).sum().backward()
    return logprobs.grad, kl_only.grad


def test_stage_one_moves_the_first_attempt_only_through_its_kl_term():
    first = slice(FIRST.start - 3, FIRST.stop - 3)  # the mask and gradients start after the prompt (3 tokens)
    second = slice(SECOND.start - 3, SECOND.stop - 3)
    grad, kl_grad = token_gradients(1, [(0.0, 1.0), (1.0, 0.0)])
    torch.testing.assert_close(grad[:, first], kl_grad[:, first])  # attempt 1: the KL term's gradient, no more
    assert kl_grad[:, first].abs().min() > 0
    assert not torch.allclose(grad[:, second], kl_grad[:, second])  # attempt 2 learns from r2
    # the first attempt's rewards reach no token in stage I (other r1, the same r2: the same gradients)...
    other_first_rewards, _ = token_gradients(1, [(1.0, 1.0), (0.0, 0.0)])
    torch.testing.assert_close(other_first_rewards, grad)
    # ...and do in stage II
    stage_two, kl_two = token_gradients(2, [(0.0, 1.0), (1.0, 0.0)])
    assert not torch.allclose(stage_two[:, first], kl_two[:, first])


# --- training: a real tiny model; resumption ---------------------------------------------------------------------
class DigitEnv(TextEnv):
    """One attempt: a reply with a digit in it earns 1. The untrained tiny model writes one now and then, so
    every step has groups to learn from (the real Math-v0 is in the tests above and below)."""

    uses_sandbox = False

    def __init__(self):
        super().__init__(TaskList([Task(f"digit{i}", "digit", f"A number. ({i})") for i in range(4)], "digit"),
                         max_steps=1)

    def _begin(self, task):
        return task.prompt, {}

    def _act(self, action):
        right = any(character.isdigit() for character in action)
        return Turn("Right." if right else "Wrong.", float(right), True)


def fast_config(**overrides) -> SCoReConfig:
    settings = dict(stage1_steps=2, stage2_steps=2, tasks_per_step=2, group_size=4, max_new_tokens=8,
                    max_episode_tokens=512, learning_rate=1e-2, micro_batch_size=8, tensorboard=False,
                    save_every=1, temperature=1.0)
    return SCoReConfig(**{**settings, **overrides})


def test_training_resumes_exactly_mid_stage_one_and_mid_stage_two(tiny_path, tmp_path):
    def trainer(folder: str) -> SCoReTrainer:
        envs = [DigitEnv() for _ in range(8)]
        return SCoReTrainer(HFPolicy(tiny_path), envs, fast_config(output_dir=str(tmp_path / folder)))

    whole = trainer("whole")
    whole.train()
    whole.close()
    assert [m["stage"] for m in whole.history] == [1, 1, 2, 2]
    assert all(m["turns"] == 2 for m in whole.history)  # every episode had two attempts
    assert sum(m["grad_norm"] > 0 for m in whole.history) >= 2, whole.history  # the comparison covers updates

    cut = trainer("cut")
    cut.train(until=1)  # mid stage I
    cut.close()
    torch.manual_seed(999)  # a new process starts with other RNG states
    resumed = trainer("cut")
    assert resumed.step == 1 and resumed.stage == 1
    resumed.train(until=3)  # mid stage II
    resumed.close()
    again = trainer("cut")
    assert again.step == 3 and again.stage == 2
    again.train()
    again.close()
    whole_weights = dict(whole.model.named_parameters())
    for name, parameter in again.model.named_parameters():
        torch.testing.assert_close(parameter, whole_weights[name], rtol=0, atol=1e-6)
    whole_log = list(read_metrics(tmp_path / "whole" / "metrics.jsonl"))
    cut_log = list(read_metrics(tmp_path / "cut" / "metrics.jsonl"))
    assert [r["step"] for r in cut_log] == [1, 2, 3, 4]
    for key in ("stage", "accuracy_t1", "accuracy_t2", "incorrect_to_correct", "correct_to_incorrect", "loss",
                "kl", "grad_norm"):
        assert [r[key] for r in cut_log] == pytest.approx([r[key] for r in whole_log], abs=1e-6), key


def test_config_is_checked():
    assert SCoReConfig(stage1_steps=3, stage2_steps=4).steps == 7
    with pytest.raises(ValueError, match="kl_beta: must be 0"):
        SCoReConfig(kl_beta=0.1)
    with pytest.raises(ValueError, match="at least 1"):
        SCoReConfig(stage1_steps=0, stage2_steps=0)
    with pytest.raises(ValueError, match="alpha"):
        SCoReConfig(alpha=-1.0)
    with pytest.raises(TypeError):
        SCoReConfig(steps=5)  # derived from the stages


# --- the YAML method ---------------------------------------------------------------------------------------------
def test_score_experiment_file_is_checked(tmp_path):
    from selfgym.experiments.config import ConfigError, load_experiment

    path = tmp_path / "x.yaml"
    path.write_text("name: x\nmethod: {name: score, stage1_steps: 1, stage2_steps: 2, tasks_per_step: 1, "
                    "group_size: 2}\nbudget: {episodes: 8}\nagent: {temperature: 1.0}\n")
    with pytest.raises(ConfigError, match=r"budget.episodes: must be 6 for method score"):
        load_experiment(path)
    path.write_text("name: x\nmethod: {name: score, kl_beta: 0.1}\n")
    with pytest.raises(ConfigError, match=r"method.kl_beta: unknown key"):
        load_experiment(path)


class Killed(Exception):
    """Stands for a kill: the run stops between a step's logs and its checkpoint."""


@pytest.mark.docker
def test_score_experiment_runs_and_resumes(tmp_path, monkeypatch):
    from experiment_runs import episodes_of, experiment
    from selfgym.experiments.config import load_experiment
    from selfgym.experiments.methods import SCoReMethod
    from selfgym.experiments.runner import ExperimentRunner

    model = build_tiny_chat_model(tmp_path / "model")
    method = {"name": "score", "stage1_steps": 2, "stage2_steps": 2, "group_size": 2, "tasks_per_step": 1,
              "feedback": "instruction"}
    path = experiment(tmp_path, model, name="score", budget={"episodes": 8}, eval={"tasks": 2, "every": 0},
                      method=method, env={"id": "selfgym/Math-v0", "kwargs": {"max_steps": 1, "tools": False},
                                          "families": [{"name": "basic_arithmetic", "levels": 1}], "parallel": 2})
    config = load_experiment(path)
    end_step, ended = SCoReMethod.end_step, []

    def killed_in_stage_two(self, result):
        if self.trainer.step == 3:  # step 3 (stage II) is played and logged, its checkpoint never written
            raise Killed
        ended.append(self.trainer.step)
        end_step(self, result)

    monkeypatch.setattr(SCoReMethod, "end_step", killed_in_stage_two)
    with pytest.raises(Killed):
        ExperimentRunner(config).run()
    assert ended == [1, 2]
    monkeypatch.setattr(SCoReMethod, "end_step", end_step)
    assert ExperimentRunner.resume(config.run_dir).run()["episodes"] == 8
    straight = load_experiment(path).model_copy(update={"output_dir": str(tmp_path / "straight")})
    ExperimentRunner(straight).run()
    resumed, uninterrupted = episodes_of(config.run_dir), episodes_of(straight.run_dir)
    assert [e["episode"] for e in resumed] == [e["episode"] for e in uninterrupted] == list(range(8))
    for mine, theirs in zip(resumed, uninterrupted, strict=True):
        assert mine["messages"] == theirs["messages"] and mine["meta"]["step"] == theirs["meta"]["step"]
    assert all(len(e["steps"]) == 2 and e["messages"][3]["content"] == CORRECTION_INSTRUCTION for e in resumed)
    logged = list(read_metrics(config.run_dir / "score" / "metrics.jsonl"))
    assert [s["step"] for s in logged] == [1, 2, 3, 4] and [s["stage"] for s in logged] == [1, 1, 2, 2]
    assert all("accuracy_t2" in s and "incorrect_to_correct" in s for s in logged)
