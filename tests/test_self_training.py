"""STaR and Re-ReST end to end with a tiny real transformers model: sampling, reflection-corrections verified by
the env, LoRA SFT through TRL, and the policy changing because of it."""

from __future__ import annotations

import pytest

from selfgym.agents.hf import HFPolicy
from selfgym.agents.policy import Sampling, ScriptedPolicy
from selfgym.agents.rollout import rollout_batch
from selfgym.agents.self_training import SelfTrainConfig, SelfTrainer, sft_examples, strip_reflection
from selfgym.envs import Task, TaskList, TextEnv, Turn

ANSWER = "The answer is 5."


class SumEnv(TextEnv):
    """One-turn arithmetic: success when the reply's last line is exactly the expected sentence."""

    uses_sandbox = False

    def __init__(self):
        tasks = [Task(f"sum{i}", "sum", "What is 2+3?") for i in range(2)]
        super().__init__(TaskList(tasks, "sum"), max_steps=1)

    def _begin(self, task):
        return task.prompt, {}

    def _act(self, action):
        right = action.strip().splitlines()[-1:] == [ANSWER] if action.strip() else False
        return Turn("correct" if right else f"wrong: expected a sentence giving the sum, got {action[:40]!r}",
                    float(right), True)


def success_rate(policy, envs, tasks):
    trajectories = rollout_batch(envs, policy, tasks, seeds=[0] * len(tasks), sampling=Sampling(max_new_tokens=12))
    return sum(t.success for t in trajectories) / len(trajectories)


def test_rerest_learns_from_verified_corrections(tiny_path, tmp_path):
    policy = HFPolicy(tiny_path, sampling=Sampling(max_new_tokens=12))
    envs = [SumEnv(), SumEnv()]
    tasks = list(envs[0].source)
    assert success_rate(policy, envs, tasks) == 0.0  # random weights
    reflector = ScriptedPolicy([f"Reflection: I should have added the numbers.\n{ANSWER}", "no idea"], cycle=True)
    config = SelfTrainConfig(method="re-rest", samples_per_task=4, epochs=8, learning_rate=5e-3, batch_size=2,
                             sampling=Sampling(max_new_tokens=8, temperature=1.0), output_dir=str(tmp_path / "ckpt"))
    report, = SelfTrainer(policy, config, reflector=reflector).run(envs, tasks)
    assert (report.sampled, report.sampled_successes) == (8, 0)
    assert (report.corrections_tried, report.corrections_verified) == (8, 4)  # "no idea" fails verification
    assert report.examples == 4 and report.train_loss > 0
    assert success_rate(policy, envs, tasks) == 1.0  # it learnt the corrected answer, without the reflection
    assert "Reflection" not in policy.act([{"role": "user", "content": "What is 2+3?"}])
    reloaded = HFPolicy(tmp_path / "ckpt" / "iteration-1", sampling=Sampling(max_new_tokens=12))
    assert success_rate(reloaded, envs, tasks) == 1.0


def test_star_without_successes_trains_nothing(tiny_path):
    policy = HFPolicy(tiny_path)
    before = {k: v.clone() for k, v in policy.model.state_dict().items()}
    report, = SelfTrainer(policy, SelfTrainConfig(method="star", samples_per_task=2,
                                                  sampling=Sampling(max_new_tokens=4, temperature=1.0))).run(
        [SumEnv()], list(SumEnv().source))
    assert report.sampled_successes == 0 and report.examples == 0 and report.corrections_tried == 0
    assert all((policy.model.state_dict()[k] == v).all() for k, v in before.items())


def test_sft_examples_strip_reflector_context():
    env = SumEnv()
    prefix = "An earlier attempt failed...\n\nThe task:\n"
    trajectory, = rollout_batch([env], ScriptedPolicy([f"Reflection: I should have added.\n{ANSWER}"]),
                                [list(env.source)[0]], first_message_prefixes=[prefix])
    trajectory.meta["correction_prefix"] = prefix
    example, = sft_examples([trajectory])
    assert example["prompt"][-1] == {"role": "user", "content": "What is 2+3?"}
    assert example["completion"] == [{"role": "assistant", "content": ANSWER}]
    assert strip_reflection("Reflection: only a diagnosis") == "Reflection: only a diagnosis"


def test_cpu_finetuning_skips_gradient_checkpointing_and_logs_lines_off_a_terminal(tiny_path):
    """On the CPU, recomputing activations buys nothing at these sizes (it was TRL's default); asked for, it is
    on. Where the console is not a terminal (CI logs), each tenth of the steps is a line with loss and speed."""
    import io

    from rich.console import Console

    from selfgym.agents.self_training import finetune
    from selfgym.experiments.progress import training_progress

    examples = [{"prompt": [{"role": "user", "content": "What is 2+3?"}],
                 "completion": [{"role": "assistant", "content": ANSWER}]}] * 4
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=200)
    policy = HFPolicy(tiny_path)
    with training_progress(console, "fine-tuning", 2) as (progress, on_log):
        finetune(policy, examples, SelfTrainConfig(epochs=2, batch_size=2), seed=0, progress=progress, on_log=on_log)
    assert not policy.model.is_activation_checkpointing  # the flag the trainer leaves on the (merged) model
    lines = out.getvalue().splitlines()
    assert lines[0] == "fine-tuning: started" and lines[-1].startswith("fine-tuning: done in")
    assert [line.split(",")[0] for line in lines[1:-1]] == [f"fine-tuning: step {i}/4" for i in range(1, 5)]
    assert all(" loss " in line and line.endswith("examples/s") for line in lines[1:-1])
    policy = HFPolicy(tiny_path)
    finetune(policy, examples[:2], SelfTrainConfig(epochs=1, batch_size=2, gradient_checkpointing=True), seed=0)
    assert policy.model.is_activation_checkpointing
