"""Reading task directories: Harbor's layout (``task.toml``) and terminal-bench's older one (``task.yaml``).

A Harbor task directory::

    task.toml            # schema 1.x: [task] [metadata] [verifier] [agent] [environment] [solution] [[steps]]
    instruction.md       # the prompt (of a single-step task)
    environment/         # Dockerfile and its build context (or task.toml's docker_image)
    tests/test.sh        # writes /logs/verifier/reward.json or reward.txt (plus whatever it needs in tests/)
    solution/solve.sh    # the reference solution (optional)
    steps/<name>/        # multi-step tasks, one folder per [[steps]] entry: instruction.md, tests/ (over the
                         # task's tests/; its test.sh, else the task's), solution/solve.sh, workdir/ (+ setup.sh)

terminal-bench's layout (``task.yaml``, ``Dockerfile``, ``docker-compose.yaml``, ``run-tests.sh``,
``solution.sh``, ``tests/``) is read as ``harbor task migrate`` would convert it: the test script is
``run-tests.sh`` with ``$TEST_DIR`` set to ``/tests`` and a reward of 1 when it exits 0, else 0; the environment is
the Dockerfile of the compose service's build context (``client``'s, else the one service's), or, for a task
without a Dockerfile of its own, the image the service names (``image:``; ``base_images`` may declare a stand-in
for it, as for any image that cannot be had offline).

:func:`read_tasks` reads a folder task by task: a directory that cannot be played is left out and named, with
the reason, in the result's ``skipped`` (and a warning); ``strict=True`` refuses the whole folder instead.
"""

from __future__ import annotations

import base64
import re
import shlex
import tomllib
import warnings
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ...sandbox.checks import lint_check
from ...sandbox.reference_lint import reference_problems
from ..task import Task
from .config import SelfgymMetadata, StepConfig, TaskToml
from .spec import HarborSpec, HarborStep, Hook
from .template import SETUP_FILE, sandbox_dockerfile

CANARY_LINE = re.compile(r"^(<!--.*canary.*-->|#.*canary.*)$", re.IGNORECASE)
DIFFICULTY_WORDS = {"easy": 1, "medium": 2, "hard": 3}
WRONG_ATTEMPT = re.compile(r"wrong-\d+\.sh")
# what terminal-bench's harness appended to run-tests.sh when Harbor migrated it (harbor.mappers.terminal_bench)
REWARD_FROM_EXIT_CODE = """
_EXIT_CODE=$?
if [ $_EXIT_CODE -eq 0 ]; then
    echo 1 > /logs/verifier/reward.txt
else
    echo 0 > /logs/verifier/reward.txt
fi
exit $_EXIT_CODE
"""


class TaskDirError(ValueError):
    """A task directory that cannot be played; the message names the file and what is wrong."""


class LoadedTasks(list):
    """The tasks of a folder that could be read; ``skipped`` names each directory left out and why."""

    def __init__(self, tasks: list[Task], skipped: list[tuple[str, str]]) -> None:
        super().__init__(tasks)
        self.skipped = skipped


def is_task_dir(path: str | Path) -> bool:
    """True for a Harbor (``task.toml``) or terminal-bench (``task.yaml``) task directory."""
    path = Path(path)
    return (path / "task.toml").is_file() or (path / "task.yaml").is_file()


def read_tasks(path: str | Path, *, family: str = "shell", strict: bool = False) -> LoadedTasks:
    """The task at ``path``, or every task directory directly inside it (a dataset), sorted by name.

    In a folder, a directory that cannot be played is left out: the result's ``skipped`` lists it with the reason,
    and a warning says so; with ``strict``, the first such directory is a :class:`TaskDirError` for the whole
    folder. A folder in which no task can be played is an error either way.
    """
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"{path} is not a directory of Harbor or terminal-bench tasks")
    if is_task_dir(path):
        return LoadedTasks([read_task(path, family=family)], [])
    dirs = sorted(child for child in path.iterdir() if child.is_dir() and is_task_dir(child))
    if not dirs:
        raise TaskDirError(f"{path} holds no task directories (folders with a task.toml or task.yaml)")
    tasks, skipped = [], []
    for folder in dirs:
        try:
            tasks.append(read_task(folder, family=family))
        except (TaskDirError, ValueError, OSError) as exc:
            if strict:
                raise TaskDirError(f"{folder.name}: {exc} (strict: the folder loads whole or not at all)") from None
            skipped.append((folder.name, str(exc)))
    if not tasks:
        reasons = "; ".join(f"{name}: {reason}" for name, reason in skipped[:5])
        raise TaskDirError(f"no task in {path} can be played: {reasons}")
    if skipped:
        warnings.warn(f"{len(skipped)} of {len(dirs)} task directories in {path} cannot be played and are left "
                      "out: " + "; ".join(f"{name}: {reason}" for name, reason in skipped), stacklevel=2)
    return LoadedTasks(tasks, skipped)


def read_task(path: str | Path, *, family: str = "shell") -> Task:
    """One task directory as a :class:`Task` whose ``data["harbor"]`` is a :class:`HarborSpec`."""
    path = Path(path).resolve()
    if (path / "task.toml").is_file():
        return _read_harbor(path, family)
    if (path / "task.yaml").is_file():
        return _read_terminal_bench(path, family)
    raise TaskDirError(f"{path} is not a task directory: it has neither task.toml (Harbor) nor task.yaml "
                       "(terminal-bench)")


# --- Harbor ---------------------------------------------------------------------------------------------------

def _read_harbor(path: Path, family: str) -> Task:
    config = _parse_toml(path / "task.toml")
    try:
        ours = SelfgymMetadata.model_validate(config.metadata.get("selfgym", {}))
    except ValidationError as exc:
        raise TaskDirError(f"{path / 'task.toml'}: [metadata.selfgym]: {exc}") from None
    steps = _steps(path, config) if config.steps else []
    if steps:  # a multi-step task's prompt is its first step's instruction (Harbor has no task-level one then)
        instruction = steps[0].instruction
    else:
        instruction = _read_text(path / "instruction.md", what="the instruction")
    environment = config.environment
    fields: dict[str, Any] = dict(
        dir=str(path), layout="harbor", workdir=environment.workdir, env=dict(environment.env),
        network=environment.network, cpus=environment.cpus, memory_mb=environment.memory_mb,
        storage_mb=environment.storage_mb, build_timeout_s=environment.build_timeout_sec,
        healthcheck=environment.healthcheck.model_dump() if environment.healthcheck else None,
        keep_background=ours.keep_background, answer_file=ours.answer_file,
        agent_timeout_s=config.agent.timeout_sec,
        verifier_timeout_s=config.verifier.timeout_sec, verifier_env=dict(config.verifier.env),
        verifier_mode=config.verifier.mode,
        collect=[Hook(command=h.command, timeout_s=h.timeout_sec) for h in config.verifier.collect],
        artifacts=config.artifact_sources() + [a if isinstance(a, str) else a.source
                                               for step in config.steps or [] for a in step.artifacts],
        steps=steps, reward_strategy=config.multi_step_reward_strategy or "mean",
    )
    if steps:
        fields["verifier_mode"] = steps[-1].verifier_mode  # the mode of the run that ends the episode
    fields.update(_environment(path, config, ours))
    fields.update(_verifier_tests(path, config, steps))
    if fields["environment"] == "sandbox":
        _lint_check_script(path, fields["setup"], instruction)
    spec = HarborSpec(**fields)
    name = config.task.name if config.task else path.name
    if steps:
        solution = _steps_solution(path, config, spec.start_dir)
    else:
        solution = _solution_actions(path / "solution", config.solution.env, spec.start_dir)
    if solution and ours.answer is not None:
        solution[-1] = f"submit {ours.answer}"
    return _task(name, family, instruction, _difficulty(config.metadata, ours), config.metadata, spec, solution)


def _steps(path: Path, config: TaskToml) -> list[HarborStep]:
    """The ``[[steps]]`` of a multi-step task, each resolved from ``steps/<name>/`` as Harbor runs them."""
    steps = []
    for step in config.steps or []:
        folder = path / "steps" / step.name
        if not folder.resolve().is_relative_to((path / "steps").resolve()):
            raise TaskDirError(f"{path}: step {step.name!r} leads out of steps/")
        instruction = strip_canary(_read_text(folder / "instruction.md",
                                              what=f"the instruction of step {step.name!r}"))
        tests = folder / "tests"
        if not (tests / "test.sh").is_file() and not (path / "tests" / "test.sh").is_file() and _step_mode(
                config, step) == "shared":
            raise TaskDirError(f"{path}: step {step.name!r} has no test script: expected {tests / 'test.sh'} or "
                               f"{path / 'tests' / 'test.sh'}")
        workdir = folder / "workdir"
        verifier = step.verifier
        steps.append(HarborStep(
            name=step.name, instruction=instruction.strip(), workdir=str(workdir) if workdir.is_dir() else None,
            setup=(workdir / "setup.sh").is_file(),
            healthcheck=step.healthcheck.model_dump() if step.healthcheck else None,
            tests_dir=str(tests) if tests.is_dir() else None,
            agent_timeout_s=(step.agent.timeout_sec if step.agent.timeout_sec is not None
                             else config.agent.timeout_sec),
            verifier_timeout_s=verifier.timeout_sec,
            verifier_env=dict(verifier.env), verifier_mode=_step_mode(config, step), min_reward=step.min_reward))
    return steps


def _step_mode(config: TaskToml, step: StepConfig) -> str:
    return config.step_verifier_mode(step)


def _steps_solution(path: Path, config: TaskToml, start_dir: str) -> list[str] | None:
    """The reference actions of a multi-step task: each step's solve script, then ``submit``; None when a step
    has none."""
    actions: list[str] = []
    for step in config.steps or []:
        solved = _solution_actions(path / "steps" / step.name / "solution", config.solution.env, start_dir)
        if solved is None:
            return None
        actions += solved
    return actions


def _parse_toml(file: Path) -> TaskToml:
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise TaskDirError(f"{file}: not valid TOML: {exc}") from None
    try:
        return TaskToml.model_validate(raw)
    except ValidationError as exc:
        raise TaskDirError(f"{file}: {exc}") from None


def _environment(path: Path, config: TaskToml, ours: SelfgymMetadata) -> dict[str, Any]:
    env_dir = path / "environment"
    dockerfile = env_dir / "Dockerfile"
    if ours.environment == "sandbox":
        text = _read_text(dockerfile, what="the environment's Dockerfile")
        variants = {sandbox_dockerfile(setup_at_start=at_start): at_start for at_start in (False, True)}
        if text not in variants:
            raise TaskDirError(
                f"{dockerfile} is not selfgym's sandbox template, yet task.toml declares [metadata.selfgym] "
                'environment = "sandbox" (which says it is). Restore the template, or remove the declaration '
                "to have selfgym build this Dockerfile as it is.")
        if variants[text] and not config.environment.healthcheck:
            raise TaskDirError(f"{path / 'task.toml'}: the sandbox template that runs setup.sh at start needs the "
                               "[environment.healthcheck] that waits for it")
        return {"environment": "sandbox", "setup": _read_text(env_dir / SETUP_FILE, what="the setup script")}
    if config.environment.docker_image:
        return {"environment": "image", "docker_image": config.environment.docker_image}
    if dockerfile.is_file():
        return {"environment": "image", "context": str(env_dir)}
    if any((env_dir / name).is_file() for name in ("docker-compose.yaml", "docker-compose.yml")):
        raise TaskDirError(f"{env_dir}: multi-container (docker compose) environments are not supported by "
                           "selfgym; a task needs an environment/Dockerfile or [environment].docker_image")
    raise TaskDirError(f"{path}: no environment: expected environment/Dockerfile or [environment].docker_image "
                       "in task.toml")


def _lint_check_script(path: Path, setup: str, instruction: str) -> None:
    """A task in selfgym's format (the sandbox template) whose ``tests/check.sh`` runs the agent's code as the verifier,
    or compares with a value in the agent's reach, is refused (:mod:`selfgym.sandbox.checks`,
    :mod:`selfgym.sandbox.reference_lint`)."""
    file = path / "tests" / "check.sh"
    if not file.is_file():
        return
    check = _read_text(file, what="the check script")
    problems = [problem for problem in [lint_check(check)] if problem]
    problems += reference_problems(check, setup=setup, instruction=strip_canary(instruction))
    if problems:
        raise TaskDirError(f"{file}: " + "; ".join(problems))


def _verifier_tests(path: Path, config: TaskToml, steps: list[HarborStep]) -> dict[str, Any]:
    """Where the tests come from: ``tests/`` copied in, or a verifier image that bundles them (separate mode); a
    multi-step task's steps bring their own (checked in :func:`_steps`)."""
    tests = path / "tests"
    if steps:
        own = config.verifier.environment
        image = own.docker_image if own is not None and steps[-1].verifier_mode == "separate" else None
        return {"tests_dir": str(tests) if tests.is_dir() else None, "verifier_image": image}
    if config.verifier.mode == "separate":
        own = config.verifier.environment
        if own is not None and own.docker_image:
            return {"verifier_image": own.docker_image, "tests_dir": None}
        if (tests / "Dockerfile").is_file():
            return {"verifier_context": str(tests), "tests_dir": None}
    if not (tests / "test.sh").is_file():
        raise TaskDirError(f"{path}: missing tests/test.sh (the verifier's script)")
    return {"tests_dir": str(tests)}


# --- terminal-bench -------------------------------------------------------------------------------------------

def _read_terminal_bench(path: Path, family: str) -> Task:
    file = path / "task.yaml"
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise TaskDirError(f"{file}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict) or not isinstance(raw.get("instruction"), str):
        raise TaskDirError(f"{file}: expected a mapping with an 'instruction'")
    if not (path / "run-tests.sh").is_file():
        raise TaskDirError(f"{path}: missing run-tests.sh")
    service = _compose_service(path)
    if service.context is None and service.image is None:
        raise TaskDirError(f"{path}: no environment: expected a Dockerfile, or a docker-compose.yaml whose service "
                           "names its image (image: NAME)")
    tests = path / "tests"
    script = _read_text(path / "run-tests.sh", what="run-tests.sh").replace("$TEST_DIR", "/tests")
    if not script.endswith("\n"):
        script += "\n"
    spec = HarborSpec(
        dir=str(path), layout="terminal-bench", environment="image", context=service.context,
        docker_image=service.image, workdir=service.workdir, env={"TEST_DIR": "/tests", **service.env},
        agent_timeout_s=float(raw.get("max_agent_timeout_sec", 360.0)),
        verifier_timeout_s=float(raw.get("max_test_timeout_sec", 60.0)),
        tests_dir=str(tests) if tests.is_dir() else None, test_script=script + REWARD_FROM_EXIT_CODE,
    )
    solution_file = path / "solution.sh"
    solution = [_read_text(solution_file, what="solution.sh"), "submit"] if solution_file.is_file() else None
    metadata = {key: raw[key] for key in ("category", "difficulty", "tags") if key in raw}
    name = path.name
    return _task(name, family, raw["instruction"], _difficulty(metadata, None), metadata, spec, solution)


class _Service:
    """The container of a terminal-bench task: built from ``context`` (a folder with a Dockerfile), or ``image``."""

    def __init__(self, context: str | None, image: str | None, workdir: str | None, env: dict[str, str]) -> None:
        self.context, self.image, self.workdir, self.env = context, image, workdir, env


def _compose_service(path: Path) -> _Service:
    """The container of a terminal-bench task: its compose service (``client``, else the only one), as Harbor's
    mapper picks it; the task directory's Dockerfile when there is no compose file."""
    file = path / "docker-compose.yaml"
    if not file.is_file():
        own = path / "Dockerfile"
        return _Service(str(path) if own.is_file() else None, None, None, {})
    try:
        compose = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise TaskDirError(f"{file}: not valid YAML: {exc}") from None
    services = compose.get("services") or {}
    if len(services) != 1:
        raise TaskDirError(f"{file}: {len(services)} services; selfgym runs one container per task. Convert the "
                           "task with `harbor task migrate` and keep its Dockerfile environment, or leave it out")
    service = next(iter(services.values())) or {}
    build = service.get("build")
    context_dir: Path | None = None
    if build is not None or (path / "Dockerfile").is_file():
        context = (build.get("context", ".") if isinstance(build, dict) else build) or "."
        context_dir = (path / str(context)).resolve()
        if not context_dir.is_relative_to(path) or not (context_dir / "Dockerfile").is_file():
            raise TaskDirError(f"{file}: the build context {context!r} is not a folder of the task with a "
                               "Dockerfile")
    image = service.get("image")
    named = str(image) if image and "${" not in str(image) else None  # terminal-bench's ${...} names are its own
    env: dict[str, str] = {}
    listed = service.get("environment") or []
    pairs = listed.items() if isinstance(listed, dict) else (item.partition("=")[::2] for item in listed)
    for key, value in pairs:
        if "${" not in str(value):  # terminal-bench's own variables (TEST_DIR=${T_BENCH_TEST_DIR}) are ours to set
            env[str(key)] = str(value)
    workdir = service.get("working_dir")
    return _Service(str(context_dir) if context_dir else None, None if context_dir else named,
                    workdir if workdir and "${" not in workdir else None, env)


# --- shared ---------------------------------------------------------------------------------------------------

def _task(name: str, family: str, instruction: str, difficulty: float, metadata: dict[str, Any],
          spec: HarborSpec, solution: list[str] | None) -> Task:
    data: dict[str, Any] = {"category": str(metadata.get("category") or "terminal"),
                            "harbor": spec.model_dump(mode="json")}
    if solution:
        data["solution"] = solution
    return Task(id=name, family=family, prompt=strip_canary(instruction).strip(), difficulty=difficulty, data=data)


def _difficulty(metadata: dict[str, Any], ours: SelfgymMetadata | None) -> float:
    if ours is not None and ours.level is not None:
        return ours.level
    value = metadata.get("difficulty")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 3:
        return float(value)
    return DIFFICULTY_WORDS.get(str(value).lower(), 0)


def _solution_actions(folder: Path, env: dict[str, str], start_dir: str) -> list[str] | None:
    """The reference actions: the solve script as one command (after what the oracle would be given: the
    solution's other files in ``/solution`` and its ``[solution].env``), then ``submit``."""
    solve = folder / "solve.sh"
    if not solve.is_file():
        return None
    script = _read_text(solve, what="the solve script")
    extras = sorted(f for f in folder.rglob("*") if f.is_file() and f != solve and not WRONG_ATTEMPT.fullmatch(
        f.name))
    exports = "".join(f"export {key}={shlex.quote(value)}\n" for key, value in env.items())
    if not extras:
        return [exports + script, "submit"]
    lines = [exports.rstrip("\n")] if exports else []
    for file in extras:
        target = "/solution/" + file.relative_to(folder).as_posix()
        encoded = base64.b64encode(file.read_bytes()).decode()
        lines.append(f"mkdir -p {shlex.quote(target.rsplit('/', 1)[0])} && "
                     f"echo {encoded} | base64 -d > {shlex.quote(target)}")
    lines.append(f"cd {shlex.quote(start_dir)} && bash /solution/solve.sh")
    return ["\n".join(lines), "submit"]


def wrong_attempts(path: str | Path) -> list[list[str]]:
    """The plausible wrong attempts a task ships (``solution/wrong-N.sh``), each as actions ending in submit."""
    folder = Path(path) / "solution"
    files = sorted(folder.glob("wrong-*.sh"), key=lambda f: int(re.sub(r"\D", "", f.name) or 0))
    return [[f.read_text(encoding="utf-8"), "submit"] for f in files if WRONG_ATTEMPT.fullmatch(f.name)]


def strip_canary(text: str) -> str:
    """The instruction without leading canary lines (data-provenance markers agents must not see), as Harbor."""
    lines = text.split("\n")
    start = 0
    while start < len(lines) and CANARY_LINE.match(lines[start].strip()):
        start += 1
    while start < len(lines) and not lines[start].strip():
        start += 1
    return "\n".join(lines[start:])


def _read_text(file: Path, *, what: str) -> str:
    if not file.is_file():
        raise TaskDirError(f"missing {file} ({what})")
    try:
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise TaskDirError(f"{file} ({what}) is not UTF-8 text") from None
