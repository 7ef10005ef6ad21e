"""TRL's GRPOTrainer with :class:`SelfgymRollout` when a prompt leaves no room for a reply (issue 20, fault 7).

Before: ``play_episodes`` returned no completion tokens for such an episode and TRL's ``grpo_trainer.py`` failed
with ``IndexError`` (it reads each completion's last token).
"""

from __future__ import annotations

import pytest

from selfgym.envs import Task, TaskList, TextEnv, Turn

LONG_PROMPT = "Reply with a number after reading all of this. " * 40  # ~2000 characters: > 256 tokens


class NumberEnv(TextEnv):
    """Reply starting with a digit: reward 1. One task's prompt is far longer than the episode budget."""

    uses_sandbox = False

    def __init__(self):
        tasks = [Task("short", "number", "Reply with a number."), Task("long", "number", LONG_PROMPT)]
        super().__init__(TaskList(tasks, "number"), max_steps=1)

    def _begin(self, task):
        return task.prompt, {}

    def _act(self, action):
        right = action[:1].isdigit()
        return Turn("Right." if right else "Wrong.", float(right), True)


def test_trl_trains_through_a_prompt_longer_than_the_episode_budget(tiny_path, tmp_path, monkeypatch,
                                                                      torch_one_thread):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    from selfgym.agents.trl_env import SelfgymRollout, env_reward

    monkeypatch.setenv("TRL_EXPERIMENTAL_SILENCE", "1")
    rollout = SelfgymRollout(NumberEnv, NumberEnv().source, max_new_tokens=8, max_episode_tokens=256)
    args = GRPOConfig(output_dir=str(tmp_path), per_device_train_batch_size=8, num_generations=4, max_steps=2,
                      learning_rate=1e-3, use_cpu=True, bf16=False, report_to="none", logging_steps=1,
                      save_strategy="no", disable_tqdm=True, seed=0)
    trainer = GRPOTrainer(model=AutoModelForCausalLM.from_pretrained(tiny_path), reward_funcs=env_reward, args=args,
                          train_dataset=rollout.dataset(), rollout_func=rollout,
                          processing_class=AutoTokenizer.from_pretrained(tiny_path))
    trainer.train()  # the long prompt is in every batch (two tasks, eight rows)
    assert len([entry for entry in trainer.state.log_history if "reward" in entry]) == 2

    rows = [row["prompt"] for row in rollout.dataset()]
    output = rollout(rows, trainer)
    short, long = (dict(zip(output, values, strict=True)) for values in zip(*output.values(), strict=True))
    assert len(short["completion_ids"]) >= 1 and sum(short["env_mask"]) >= 1
    eos = trainer.processing_class.eos_token_id
    assert long["completion_ids"] == [eos] and long["env_mask"] == [0] and long["logprobs"] == [0.0]
    assert long["env_reward"] == 0.0 and long["success"] == 0.0
    assert len(long["prompt_ids"]) + 1 <= 256  # the prompt's end, within the episode budget
