"""Multi-turn GRPO with a tiny real transformers model: token masks, sampling/training agreement, the loss,
learning a task the untrained model rarely solves, exact resumption after a cut-off run, metrics files."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from selfgym.agents.grpo import (GRPOConfig, GRPOTrainer, MicroBatch, checkpoints, clipped_token_loss,
                                 group_advantages, play_episodes, token_logprobs)
from selfgym.agents.hf import HFPolicy
from selfgym.agents.metrics import read_metrics
from selfgym.agents.policy import Sampling
from selfgym.curricula import FixedFamily, UniformCurriculum
from selfgym.envs import Task, TaskList, TextEnv, Turn


class DigitEnv(TextEnv):
    """Reply starting with a digit: reward 1. Otherwise the env says so and the agent gets a second try. An
    untrained tiny model does this in under a tenth of its episodes."""

    uses_sandbox = False

    def __init__(self, max_steps: int = 2):
        tasks = [Task(f"digit{i}", "digit", f"Reply with a number. ({i})") for i in range(4)]
        super().__init__(TaskList(tasks, "digit"), max_steps=max_steps)

    def _begin(self, task):
        return task.prompt, {}

    def _act(self, action):
        right = action[:1].isdigit()
        return Turn("Right." if right else "Wrong: start your reply with a digit.", float(right), right)


@pytest.fixture(autouse=True)
def one_thread(torch_one_thread):
    """Every test here runs with one torch thread (see conftest)."""


def fast_config(**overrides) -> GRPOConfig:
    settings = dict(steps=4, tasks_per_step=2, group_size=8, max_new_tokens=8, max_episode_tokens=256,
                    learning_rate=1e-2, micro_batch_size=16, tensorboard=False)
    return GRPOConfig(**{**settings, **overrides})


def success_rate(policy, envs, seeds) -> float:
    tasks = list(envs[0].source)
    rates = []
    for seed in seeds:
        episodes, _ = play_episodes(policy, envs, [tasks[i % len(tasks)] for i in range(len(envs))],
                                    sampling=Sampling(max_new_tokens=8, temperature=1.0, seed=seed),
                                    max_episode_tokens=256)
        rates.append(np.mean([e.trajectory.success for e in episodes]))
    return float(np.mean(rates))


def test_episode_tokens_mask_only_the_models_replies(tiny_path):
    policy = HFPolicy(tiny_path)
    envs = [DigitEnv(max_steps=3) for _ in range(6)]
    episodes, timing = play_episodes(policy, envs, list(envs[0].source)[:1] * 6,
                                     sampling=Sampling(max_new_tokens=5, temperature=1.0, seed=3),
                                     max_episode_tokens=256)
    assert timing.generated_tokens == sum(e.model_tokens for e in episodes)
    multi_turn = 0
    for episode in episodes:
        steps = episode.trajectory.steps
        assert len(episode.ids) == len(episode.mask)
        assert episode.ids[:episode.prompt_length] == policy.prompt_ids(episode.trajectory.messages[:2])
        runs = _runs(episode.mask)
        model_runs = [(a, b) for value, a, b in runs if value == 1]
        assert len(model_runs) == len(steps)  # one run of model tokens per reply
        for (a, b), step in zip(model_runs, steps, strict=True):
            assert b - a == step.completion_tokens
            assert policy.tokenizer.decode(episode.ids[a:b], skip_special_tokens=True) == step.action
        env_runs = [(a, b) for value, a, b in runs if value == 0][1:]  # after the prompt: observations
        assert len(env_runs) == len(steps) - 1  # the final observation is not part of the sequence
        for (a, b), step in zip(env_runs, steps, strict=False):
            text = policy.tokenizer.decode(episode.ids[a:b])
            assert step.observation in text and text.endswith("<|im_start|>assistant\n")
        multi_turn += len(steps) > 1
    assert multi_turn >= 3  # the untrained model mostly fails its first try


def _runs(mask):
    runs, start = [], 0
    for i in range(1, len(mask) + 1):
        if i == len(mask) or mask[i] != mask[start]:
            runs.append((mask[start], start, i))
            start = i
    return runs


def test_training_logprobs_are_the_sampling_distribution(tiny_path):
    """What the loss differentiates is the probability the tokens were sampled with: same ids, same positions
    (left-padded generation vs right-padded training), same temperature."""
    from transformers import GenerationConfig

    policy = HFPolicy(tiny_path)
    contexts = [policy.prompt_ids([{"role": "user", "content": "hi " * k}]) for k in (1, 6, 15)]
    batch = policy.tokenizer.pad({"input_ids": contexts}, padding=True, padding_side="left",
                                 return_tensors="pt")
    temperature = 0.7
    config = GenerationConfig(max_new_tokens=6, do_sample=True, temperature=temperature, top_k=0, top_p=1.0,
                              eos_token_id=sorted(policy.eos_token_ids),
                              pad_token_id=policy.tokenizer.pad_token_id, output_scores=True,
                              return_dict_in_generate=True)
    torch.manual_seed(0)
    output = policy.model.generate(**batch, generation_config=config)
    width = batch["input_ids"].shape[1]
    sampled = output.sequences[:, width:]
    scores = torch.stack(output.scores, 1).log_softmax(-1)  # after temperature: what was sampled from
    sampled_logprobs = scores.gather(-1, sampled.unsqueeze(-1)).squeeze(-1)
    episodes = [_episode(context + sampled[i].tolist(), len(context)) for i, context in enumerate(contexts)]
    micro = MicroBatch.of(episodes, [0.0] * 3, policy.tokenizer.pad_token_id, policy.device)
    with torch.no_grad():
        logprobs, _ = token_logprobs(policy.model, micro, temperature)
    for row, context in enumerate(contexts):
        offset = len(context) - 1 - micro.start
        ids = sampled[row].tolist()
        # compared up to the end-of-turn token: padding follows it
        length = next((i + 1 for i, t in enumerate(ids) if t in policy.eos_token_ids), len(ids))
        torch.testing.assert_close(logprobs[row, offset:offset + length], sampled_logprobs[row, :length],
                                   atol=1e-4, rtol=1e-4)


def _episode(ids, prompt_length):
    from selfgym.agents.grpo import TokenEpisode
    from selfgym.agents.trajectory import Trajectory

    trajectory = Trajectory(Task("t", "f", "p"), [], [])
    mask = [0] * prompt_length + [1] * (len(ids) - prompt_length)
    return TokenEpisode(trajectory, ids, mask, prompt_length)


def test_group_advantages():
    advantages = group_advantages([1, 0, 0, 0, 1, 1, 1, 1], 4)
    np.testing.assert_allclose(advantages[:4], np.array([3, -1, -1, -1]) / (np.sqrt(3) + 4e-4), rtol=1e-6)
    assert not advantages[4:].any()  # a group that all succeeded teaches nothing
    np.testing.assert_allclose(group_advantages([2, 0], 2, scale=False), [1, -1])
    with pytest.raises(ValueError, match="groups of 4"):
        group_advantages([1, 0, 1], 4)


def test_clipped_loss_and_k3_kl():
    logprobs = torch.log(torch.tensor([[0.5, 0.9]]))
    old = torch.log(torch.tensor([[0.25, 0.9]]))  # ratios 2 and 1
    reference = torch.log(torch.tensor([[0.25, 0.9]]))
    loss, clipped, kl = clipped_token_loss(logprobs, old, torch.tensor([1.0]), reference, clip_low=0.2,
                                           clip_high=0.3, kl_beta=0.5)
    q = np.log(0.5)  # log(ref/π) for the first token
    expected_kl = np.exp(q) - q - 1
    torch.testing.assert_close(kl, torch.tensor([[expected_kl, 0.0]], dtype=torch.float32))
    torch.testing.assert_close(loss, torch.tensor([[-1.3 + 0.5 * expected_kl, -1.0]], dtype=torch.float32))
    assert clipped.tolist() == [[1.0, 0.0]]
    # a ratio below 1 - ε with a negative advantage: min() keeps the clipped, pessimistic term
    loss, clipped, _ = clipped_token_loss(old, logprobs, torch.tensor([-1.0]), None, clip_low=0.2,
                                          clip_high=0.2, kl_beta=0.0)
    torch.testing.assert_close(loss[0, 0], torch.tensor(0.8))
    assert clipped[0, 0] == 1.0


def test_grpo_raises_success_of_a_tiny_model(tiny_path, tmp_path):
    policy = HFPolicy(tiny_path)
    envs = [DigitEnv() for _ in range(16)]
    before = success_rate(policy, envs, seeds=[100, 101, 102, 103])
    assert before < 0.2
    trainer = GRPOTrainer(policy, envs, fast_config(steps=10, output_dir=str(tmp_path), tensorboard=True))
    history = trainer.train()
    trainer.close()
    after = success_rate(policy, envs, seeds=[100, 101, 102, 103])
    assert after > before + 0.5 and after > 0.7, (before, after)
    assert history[-1]["success"] > history[0]["success"]
    logged = list(read_metrics(tmp_path / "metrics.jsonl"))
    assert [r["step"] for r in logged] == list(range(1, 11))
    for key in ("reward", "success", "kl", "entropy", "tokens_per_s", "step_s", "generation_s", "env_s",
                "train_s"):
        assert key in logged[0], key
    assert any(p.name.startswith("events.out.tfevents") for p in (tmp_path / "tensorboard").iterdir())
    assert len(checkpoints(tmp_path / "checkpoints")) == 1  # the final one
    assert (checkpoints(tmp_path / "checkpoints")[0] / "adapter" / "adapter_config.json").is_file()


def test_resume_after_a_cut_off_run_matches_an_uninterrupted_one(tiny_path, tmp_path):
    config = dict(steps=4, save_every=2)
    envs = [DigitEnv(max_steps=3) for _ in range(16)]  # three tries: every step has groups to learn from

    whole = GRPOTrainer(HFPolicy(tiny_path), envs, fast_config(output_dir=str(tmp_path / "whole"), **config))
    whole.train()
    whole.close()
    whole_rng = torch.get_rng_state()

    cut = GRPOTrainer(HFPolicy(tiny_path), envs, fast_config(output_dir=str(tmp_path / "cut"), **config))
    cut.train(until=2)            # checkpoint at step 2
    cut.train_step()              # step 3 is played and logged, then the process "dies" before its checkpoint
    cut.close()
    (tmp_path / "cut" / "checkpoints" / ".step-000003.tmp").mkdir()  # and a save was cut halfway
    torch.manual_seed(12345)      # a new process starts with other RNG states

    resumed = GRPOTrainer(HFPolicy(tiny_path), envs, fast_config(output_dir=str(tmp_path / "cut"), **config))
    assert resumed.step == 2
    resumed.train()
    resumed.close()
    assert resumed.step == whole.step == 4
    whole_weights = dict(whole.model.named_parameters())
    for name, parameter in resumed.model.named_parameters():
        torch.testing.assert_close(parameter, whole_weights[name], rtol=0, atol=1e-6)
    assert sum(m["grad_norm"] > 0 for m in whole.history) >= 2  # the comparison covers real updates
    whole_optimizer = whole.optimizer.state_dict()["state"]
    for index, state in resumed.optimizer.state_dict()["state"].items():
        for key, value in state.items():
            torch.testing.assert_close(value, whole_optimizer[index][key], rtol=0, atol=1e-6)
    assert torch.equal(torch.get_rng_state(), whole_rng)
    assert resumed.rng.bit_generator.state == whole.rng.bit_generator.state
    whole_log = list(read_metrics(tmp_path / "whole" / "metrics.jsonl"))
    cut_log = list(read_metrics(tmp_path / "cut" / "metrics.jsonl"))
    assert [r["step"] for r in cut_log] == [1, 2, 3, 4]  # step 3 once, from the resumed run
    for key in ("reward", "loss", "grad_norm", "kl"):
        assert [r[key] for r in cut_log] == pytest.approx([r[key] for r in whole_log], abs=1e-6), key
    assert [p.name for p in checkpoints(tmp_path / "cut" / "checkpoints")] == ["step-000002", "step-000004"]


def test_full_fine_tuning_with_kl_ppo_epochs_and_a_curriculum(tiny_path, tmp_path):
    policy = HFPolicy(tiny_path)
    before = {k: v.clone() for k, v in policy.model.state_dict().items()}
    envs = [DigitEnv() for _ in range(8)]
    curriculum = UniformCurriculum([FixedFamily("digit", envs[0].source)], seed=0)
    config = fast_config(steps=2, tasks_per_step=1, lora=False, learning_rate=1e-3, kl_beta=0.1,
                         epochs_per_step=2, loss_aggregation="sequence", micro_batch_size=3,
                         output_dir=str(tmp_path))
    trainer = GRPOTrainer(policy, envs, config, tasks=curriculum)
    history = trainer.train()
    trainer.close()
    assert curriculum.episodes == 2 * 8  # told every outcome
    fresh = UniformCurriculum([FixedFamily("digit", envs[0].source)], seed=0)
    resumed = GRPOTrainer(HFPolicy(tiny_path), envs, config, tasks=fresh)  # the checkpoint has its state
    assert resumed.step == 2 and fresh.state_dict() == curriculum.state_dict()
    torch.testing.assert_close(dict(resumed.model.named_parameters()), dict(trainer.model.named_parameters()))
    resumed.close()
    trained = [m for m in history if not np.isnan(m["kl"])]
    assert trained, "no step had a group with different outcomes"
    for metrics in trained:
        assert metrics["kl"] >= 0 and 0 <= metrics["clip_fraction"] <= 1 and np.isfinite(metrics["loss"])
    assert trainer.reference is not None and trainer.model is policy.model
    changed = [k for k, v in policy.model.state_dict().items() if not torch.equal(v, before[k])]
    assert changed
    assert all(torch.equal(v, before[k]) for k, v in trainer.reference.state_dict().items())


def test_config_is_checked():
    with pytest.raises(ValueError, match="group_size"):
        GRPOConfig(group_size=1)
    with pytest.raises(ValueError, match="loss_aggregation"):
        GRPOConfig(loss_aggregation="mean")
    with pytest.raises(ValueError, match="temperature"):
        GRPOConfig(temperature=-1)
    with pytest.raises(ValueError, match="output_dir"):
        GRPOConfig(save_every=5)
    assert json.dumps(GRPOConfig().__dict__)  # plain values: configs go into checkpoints and run folders


def test_trl_grpo_trainer_learns_through_the_selfgym_rollout(tiny_path, tmp_path, monkeypatch):
    """TRL users: GRPOTrainer + SelfgymRollout + env_reward, multi-turn episodes with env tokens masked."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig as TRLConfig
    from trl import GRPOTrainer as TRLTrainer

    from selfgym.agents.trl_env import SelfgymRollout, env_reward

    monkeypatch.setenv("TRL_EXPERIMENTAL_SILENCE", "1")
    rollout = SelfgymRollout(DigitEnv, DigitEnv().source, max_new_tokens=8, max_episode_tokens=256)
    args = TRLConfig(output_dir=str(tmp_path), per_device_train_batch_size=16, num_generations=8,
                     max_steps=15, learning_rate=3e-3, lr_scheduler_type="constant", use_cpu=True, bf16=False,
                     report_to="none", logging_steps=1, save_strategy="no", disable_tqdm=True, seed=0)
    trainer = TRLTrainer(model=AutoModelForCausalLM.from_pretrained(tiny_path), reward_funcs=env_reward,
                         args=args, train_dataset=rollout.dataset(), rollout_func=rollout,
                         processing_class=AutoTokenizer.from_pretrained(tiny_path))
    trainer.train()
    rewards = [entry["reward"] for entry in trainer.state.log_history if "reward" in entry]
    assert len(rewards) == 15
    assert np.mean(rewards[-3:]) > np.mean(rewards[:3]) + 0.5, rewards

    trainer.temperature = 3.0  # wild sampling again, so that some episodes take a second turn
    output = rollout([row["prompt"] for row in rollout.dataset()] * 4, trainer)
    header = trainer.processing_class("<|im_start|>assistant\n")["input_ids"]
    second_turns = 0
    rows = zip(output["prompt_ids"], output["completion_ids"], output["env_mask"], output["logprobs"],
               strict=True)
    for prompt, completion, mask, logprobs in rows:
        assert len(completion) == len(mask) == len(logprobs)
        assert prompt[-len(header):] == header
        env_ids = [token for token, model_made in zip(completion, mask, strict=True) if not model_made]
        env_text = trainer.processing_class.decode(env_ids)
        if env_text:
            second_turns += 1
            assert "<|im_start|>user\n" in env_text and env_text.endswith("<|im_start|>assistant\n")
            assert mask[-1] == 1  # a completion ends with the model's last reply
    assert second_turns > 0
    with pytest.raises(KeyError, match="task_id"):
        rollout([[{"role": "user", "content": "no id"}]], trainer)
