"""Curriculum params and env kwargs are checked against the classes' signatures when an experiment file is read:
every mistake is one line with file:line (and a did-you-mean), exit code 2, before any env or model starts."""

from __future__ import annotations

import textwrap

import pytest
from click.testing import CliRunner

from selfgym.cli import main
from selfgym.curricula import CURRICULA
from selfgym.experiments.config import ConfigError, load_experiment
from selfgym.params import check_arguments

# curriculum -> (a misspelling of one of its parameters, an out-of-range value of one); uniform takes none
CURRICULUM_MISTAKES = {
    "uniform": ({"explor": 0.1}, None),
    "ladder": ({"raise_abov": 0.7}, {"window": 0}),
    "plr": ({"temprature": 0.1}, {"staleness": 1.5}),
    "learning_progress": ({"fast_rte": 0.1}, {"explore": -0.1}),
    "learnability": ({"decy": 0.9}, {"decay": 2.0}),
    "self_evolving": ({"phase_lenght": 10}, {"band": [0.5, 1.5]}),
}
# env id -> (misspelled kwarg, out-of-range kwarg)
ENV_MISTAKES = {
    "selfgym/Math-v0": ({"max_step": 2}, {"python_timeout_s": 0}),
    "selfgym/Code-v0": ({"test_timeout": 2}, {"max_steps": 0}),
    "selfgym/Shell-v0": ({"check_timeout": 2}, {"max_output_chars": -1}),
    "selfgym/Web-v0": ({"max_tree_char": 5}, {"viewport": [0, 600]}),
    "selfgym/Remote-v0": ({"tokn": "x"}, {"message_timeout_s": -1}),
}


def write(tmp_path, body: str):
    path = tmp_path / "exp.yaml"
    path.write_text("name: t\n" + textwrap.dedent(body), encoding="utf-8")
    return path


def one_problem(path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_experiment(path)
    lines = str(caught.value).splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{path}:"), lines[0]
    return lines[0]


def test_every_curriculum_is_covered():
    assert set(CURRICULUM_MISTAKES) == set(CURRICULA)


@pytest.mark.parametrize("name", sorted(CURRICULUM_MISTAKES))
def test_curriculum_params_misspelled_and_out_of_range(tmp_path, name):
    misspelled, out_of_range = CURRICULUM_MISTAKES[name]
    key = next(iter(misspelled))
    line = one_problem(write(tmp_path, f"curriculum:\n  name: {name}\n  params:\n    {key}: {misspelled[key]}\n"))
    assert f":5: curriculum.params.{key}: unknown parameter" in line
    if name != "uniform":
        assert "did you mean" in line
    if out_of_range:
        key, value = next(iter(out_of_range.items()))
        line = one_problem(write(tmp_path, f"curriculum:\n  name: {name}\n  params:\n    {key}: {value}\n"))
        assert f":5: curriculum.params.{key}" in line and "unknown" not in line


def test_curriculum_combination_is_checked_by_making_it(tmp_path):
    line = one_problem(write(tmp_path, "curriculum:\n  name: ladder\n  params: {raise_above: 0.2, lower_below: 0.5}\n"))
    assert ":4: curriculum.params: need 0 <= lower_below < raise_above <= 1" in line


@pytest.mark.parametrize("env_id", sorted(ENV_MISTAKES))
def test_env_kwargs_misspelled_and_out_of_range(tmp_path, env_id):
    misspelled, out_of_range = ENV_MISTAKES[env_id]
    url = "    url: http://localhost:1\n" if env_id.endswith("Remote-v0") else ""
    for kwargs, expect in ((misspelled, "did you mean"), (out_of_range, "")):
        key, value = next(iter(kwargs.items()))
        line = one_problem(write(tmp_path, f"env:\n  id: {env_id}\n  kwargs:\n{url}    {key}: {value}\n"))
        assert f"env.kwargs.{key}" in line and expect in line, line


def test_held_out_settings_are_checked_too(tmp_path):
    line = one_problem(write(tmp_path, "eval:\n  also:\n    loose: {extraction: fuzzy}\n"))
    assert ":4: eval.also.loose.extraction: Input should be 'strict' or 'flexible'" in line


def test_unknown_env_id_says_what_was_meant(tmp_path):
    line = one_problem(write(tmp_path, "env:\n  id: selfgym/Math-v1\n"))
    assert ":3: env.id:" in line and "did you mean 'selfgym/Math-v0'" in line


@pytest.mark.parametrize("body, expected", [
    ("curriculum:\n  name: ladder\n  params: {treshold_up: 0.7}\n",
     ":4: curriculum.params.treshold_up: unknown parameter; expected one of: lower_below, min_episodes"),
    ("env:\n  kwargs:\n    limits: {memory_mb: -5}\n",
     ":4: env.kwargs.limits: Limits.memory_mb must be a positive number, got -5"),
])
def test_the_two_former_tracebacks_are_one_line_and_exit_2(tmp_path, body, expected):
    path = write(tmp_path, body)
    result = CliRunner().invoke(main, ["run", str(path), "--output-dir", str(tmp_path / "run")])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0] and "Traceback" not in result.output, result.output
    assert not (tmp_path / "run").exists()  # refused before anything started


def test_a_valid_file_passes_and_the_shipped_experiments_load():
    from pathlib import Path

    for path in sorted(Path(__file__).resolve().parents[1].glob("experiments/*.yaml")):
        load_experiment(path)


def test_check_arguments_reads_a_mapping_as_the_declared_dataclass():
    from selfgym.envs.shell_env import ShellEnv

    assert check_arguments(ShellEnv.__init__, {"limits": {"memory_mb": 1024}}) == []
    problems = check_arguments(ShellEnv.__init__, {"limits": {"memory_mb": 100, "disk_mb": 64}})
    assert problems and problems[0][0] == ("limits",) and "leaves the sandbox's executor no room" in problems[0][1]


def test_a_misspelt_limit_and_a_missing_required_kwarg(tmp_path):
    line = one_problem(write(tmp_path, "env:\n  kwargs:\n    limits: {memry_mb: 600}\n"))
    assert ":4: env.kwargs.limits.memry_mb: unknown field (did you mean 'memory_mb'?)" in line
    line = one_problem(write(tmp_path, "env:\n  id: selfgym/Remote-v0\n  kwargs: {token: x}\n"))
    assert ":4: env.kwargs: missing parameter 'url' (required)" in line
