"""TRL's ``GRPOTrainer(environment_factory=...)`` on selfgym envs: the tool-environment classes, and a few GRPO
steps of a tiny tool-calling model against a real env server (a subprocess), rewards computed by the server."""

from __future__ import annotations

import inspect

import pytest
from env_servers import env_server
from tiny_models import build_tiny_tool_model

from selfgym.agents.trl_env import ToolEnvironment, tool_dataset, tool_environment
from selfgym.envs import Task

pytestmark = pytest.mark.docker

SIX_SEVENS = Task("six-sevens", "custom", "What is 6 * 7?", data={"answer": "42"})
FIVE_FIVES = Task("five-fives", "custom", "What is 5 * 5?", data={"answer": "25"})
ANSWER_42 = '<tool_call>\n{"name": "answer", "arguments": {"answer": "42"}}\n</tool_call>'


def tools_of(instance: ToolEnvironment) -> list:
    """The tools TRL finds on an environment instance, in its order."""
    return [getattr(instance, name) for name, _ in inspect.getmembers(type(instance), predicate=inspect.isfunction)
            if name not in ("reset", "get_reward") and not name.startswith("_")]


def test_a_tool_environment_has_a_method_per_tool_and_the_envs_reward():
    from transformers.utils import get_json_schema

    from selfgym.envs.shell_env import ShellEnv

    env = tool_environment("selfgym/Shell-v0")()
    try:
        assert type(env).__name__ == "SelfgymShellToolEnv"
        assert [tool.__name__ for tool in tools_of(env)] == ["bash", "submit"]
        schema = get_json_schema(type(env).submit)
        assert schema["function"]["parameters"]["properties"]["answer"]["type"] == "string"
        assert "required" not in schema["function"]["parameters"]  # submit's answer is optional
        observation = env.reset(task_id="shell/archives-002", prompt=[{"role": "user", "content": ""}])
        assert "bash shell" in observation and env.get_reward() == 0.0
        for action in ShellEnv.reference_actions(env._env.unwrapped.task):  # the reference, called as tools
            if action.startswith("submit"):
                answer = action[len("submit"):].strip()
                env.submit(answer=answer) if answer else env.submit()
            else:
                env.bash(command=action)
        assert env.get_reward() == 1.0
        assert "episode has ended" in env.bash(command="ls")
    finally:
        env._close()
    with pytest.raises(ValueError, match="not both"):
        tool_environment("selfgym/Math-v0", url="http://127.0.0.1:1")


def test_grpo_with_environment_factory_takes_steps_against_a_remote_server(tmp_path, monkeypatch, torch_one_thread):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    monkeypatch.setenv("TRL_EXPERIMENTAL_SILENCE", "1")
    with env_server("selfgym/Math-v0", "--max-sessions", "8", "--allow-custom-tasks") as server:
        factory = tool_environment(url=server.url)
        probe = factory()
        chats = [[{"role": "user", "content": probe.reset(task=task.to_dict())}] for task in (SIX_SEVENS, FIVE_FIVES)]
        model_path = build_tiny_tool_model(tmp_path / "model", ANSWER_42, tools_of(probe), chats)
        probe._close()
        args = GRPOConfig(output_dir=str(tmp_path / "out"), per_device_train_batch_size=4, num_generations=4,
                          max_steps=2, max_completion_length=48, learning_rate=1e-4, use_cpu=True, bf16=False,
                          report_to="none", logging_steps=1, save_strategy="no", disable_tqdm=True, seed=0,
                          max_tool_calling_iterations=1)
        trainer = GRPOTrainer(model=AutoModelForCausalLM.from_pretrained(model_path), args=args,
                              train_dataset=tool_dataset([SIX_SEVENS, FIVE_FIVES], custom=True),
                              environment_factory=factory, processing_class=AutoTokenizer.from_pretrained(model_path))
        trainer.train()
        logs = [entry for entry in trainer.state.log_history if "reward" in entry]
        assert len(logs) == 2
        # the model answers 42: right on 6 * 7, wrong on 5 * 5, as the server's verifier judged
        assert 0.0 < sum(entry["reward"] for entry in logs) / 2 < 1.0
        assert any(entry.get("tools/call_frequency", 0) > 0 for entry in logs), logs
        sessions = server.sessions()["sessions"]
        assert 1 <= sessions <= 8  # one per env instance TRL keeps, on the server's shared pool
