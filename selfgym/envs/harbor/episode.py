"""One episode of a Harbor task in selfgym: its environment set up, the agent's sandbox, and the verdict."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import Any

from ...sandbox import Limits, Sandbox, SandboxLostError, SandboxStartError
from ...sandbox.checks import mark_agent_start
from ...sandbox.limits import EXECUTOR_HEADROOM_MB
from ..base import TextEnv
from ..task import Task
from .config import resolve_env
from .files import folder_files
from .images import runnable_image, task_image
from .layout import CLEAR_VERIFIER, MAKE_FOLDERS, RESTORE_SEED_WORK
from .spec import HarborSpec, HarborStep
from .template import sandbox_setup_command
from .verifier import (
    Verdict,
    put_files,
    run_collect_hooks,
    run_tests,
    take_artifacts,
)

SETUP_TIMEOUT_S = 120.0
MAX_WORKDIR_BYTES = 64 * 1024 * 1024  # a step's workdir/ files, put in the agent's working directory


class EnvironmentSetupError(ValueError):
    """A task's environment could not be set up (its setup script, healthcheck or folders failed)."""


class HarborEpisode:
    """The environment of one episode of ``task``: where the agent's commands run, and how they are judged.

    ``sandbox`` tasks take the sandbox of ``env`` (from its pool of selfgym's image) and run the task's setup in it;
    ``image`` tasks get a container of their own, of the task's image with selfgym's layer, with ``limits`` (the
    task's cpus, memory and storage replace the env's, and the root file system is writable, as the task's
    Dockerfile expects), closed at the end of the episode.
    """

    def __init__(self, task: Task, spec: HarborSpec, env: TextEnv, *, limits: Limits | None,
                 base_images: Mapping[str, str]) -> None:
        self.task = task
        self.spec = spec
        self._env = env
        self._base_images = dict(base_images)
        self._limits = limits or Limits()
        where = f"task {task.id!r}"
        self.env = resolve_env(spec.env, where=f"{where} [environment].env")
        self.verifier_env = resolve_env(spec.verifier_env, where=f"{where} [verifier].env")
        if spec.network == "no-network" or not self._limits.network:
            self._limits = dataclasses.replace(self._limits, network=False)
        self._own: Sandbox | None = None
        self._image: tuple[str, str] | None = None
        self.sandbox: Sandbox | None = None
        self.start_dir = spec.start_dir  # for a task image, its working directory once it is known
        self._verifier_dir = self.start_dir

    # --- the agent's environment --------------------------------------------------------------------------------

    def start(self) -> Sandbox:
        """Set the environment up for the agent; returns the sandbox its commands run in."""
        self.sandbox = self._environment(verifier=False)
        return self.sandbox

    def current(self) -> Sandbox:
        """The agent's sandbox; ``SandboxLostError`` when it died (the env replays the episode on a fresh one)."""
        if self.sandbox is None or not self.sandbox.alive:
            raise SandboxLostError(f"The sandbox of task {self.task.id!r} is lost.")
        return self.sandbox

    def write_answer(self, answer: str) -> None:
        """``submit <answer>``: the answer goes where the instruction asked for it, written as the agent."""
        self.sandbox.run(['/bin/sh', '-c', 'printf %s "$SELFGYM_ANSWER" > "$SELFGYM_ANSWER_FILE"'],
                         env={"SELFGYM_ANSWER": answer, "SELFGYM_ANSWER_FILE": self.spec.answer_file},
                         timeout_s=10, keep_background=self.spec.keep_background)

    def begin_step(self, step: HarborStep) -> None:
        """Before a step of a multi-step task, as Harbor: the last step's tests and reward gone, the step's
        ``workdir/`` files put in the working directory (as the agent), its ``setup.sh`` run there, its
        healthcheck waited for. :class:`EnvironmentSetupError` when one of them fails."""
        sandbox = self.current()
        cleared = sandbox.run(["/bin/sh", "-c", CLEAR_VERIFIER], timeout_s=30,
                              keep_background=self.spec.keep_background, user="verifier")
        if not cleared.ok:
            raise EnvironmentSetupError(f"task {self.task.id!r}: the verifier's folders could not be cleared before "
                                        f"step {step.name!r}: {(cleared.stdout + cleared.stderr).strip()}")
        if step.workdir is not None:
            try:
                files = folder_files([step.workdir], self.start_dir, max_bytes=MAX_WORKDIR_BYTES)
            except ValueError as exc:
                raise EnvironmentSetupError(f"step {step.name!r}: its workdir: {exc}") from None
            if files:
                put_files(sandbox, files, user="agent")
        if step.setup:
            self._setup_step(sandbox, "bash ./setup.sh", self.env, f"step {step.name!r} setup", cwd=self.start_dir)
        if step.healthcheck is not None:
            self._wait_healthy(sandbox, step.healthcheck)

    # --- the verdict --------------------------------------------------------------------------------------------

    def judge(self, spec: HarborSpec | None = None) -> tuple[Verdict, list[str]]:
        """Collect hooks, then the tests in this sandbox (shared) or a fresh one with the artifacts (separate);
        ``spec``: a step's (:meth:`HarborSpec.for_step`), else the task's."""
        spec = spec or self.spec
        notes = run_collect_hooks(self.sandbox, spec, self.env, cwd=self.start_dir)
        if spec.verifier_mode == "shared":
            verdict = run_tests(self.sandbox, spec, {**self.env, **self.verifier_env}, cwd=self.start_dir)
            return verdict, notes
        artifacts = take_artifacts(self.sandbox, spec)
        self._give_back()  # the agent's processes end here: nothing of theirs runs while the tests do
        sandbox = self._environment(verifier=True)
        if artifacts:
            put_files(sandbox, artifacts, user="agent")
        verdict = run_tests(sandbox, spec, {**self.env, **self.verifier_env}, cwd=self._verifier_dir)
        return verdict, notes

    def close(self) -> None:
        self._give_back()

    # --- setting environments up --------------------------------------------------------------------------------

    def _environment(self, *, verifier: bool) -> Sandbox:
        self._give_back()
        if self.spec.environment == "sandbox":
            sandbox = self._env.renew_sandbox() if verifier else self._env.sandbox
            if sandbox.limits.network and self.spec.network == "no-network":
                raise EnvironmentSetupError(
                    f"task {self.task.id!r} forbids network access (network_mode 'no-network' / allow_internet = "
                    "false), but the env's sandbox pool has network: use a pool without network for it")
        else:
            self._env.release_sandbox()
            if verifier:
                image, self._verifier_dir = self._verifier_image()
            else:
                image, self.start_dir = self._agent_image()
            sandbox = self._own = self._start_own(image)
        self._prepare(sandbox)
        return sandbox

    def _give_back(self) -> None:
        if self._own is not None:
            own, self._own = self._own, None
            own.close()
        self.sandbox = None

    def _prepare(self, sandbox: Sandbox) -> None:
        spec = self.spec
        folders = sandbox.run(["/bin/sh", "-c", MAKE_FOLDERS], timeout_s=30, keep_background=spec.keep_background,
                              user="verifier")
        if not folders.ok:
            raise EnvironmentSetupError(f"task {self.task.id!r}: the verifier's folders could not be made in "
                                        f"{sandbox.image}: {(folders.stdout + folders.stderr).strip()}")
        if spec.environment == "sandbox":
            command = sandbox_setup_command(setup_at_start=spec.healthcheck is not None)
            self._setup_step(sandbox, command, {**self.env, "SELFGYM_SETUP": spec.setup}, "setup")
        else:
            self._setup_step(sandbox, RESTORE_SEED_WORK, self.env, "restoring /work")
        if spec.healthcheck is not None:
            self._wait_healthy(sandbox, spec.healthcheck)
        mark_agent_start(sandbox, keep_background=spec.keep_background)

    def _setup_step(self, sandbox: Sandbox, command: str, env: dict[str, str], what: str, *,
                    cwd: str = "/work") -> None:
        result = sandbox.run(["/bin/bash", "-c", command], cwd=cwd, env=env, timeout_s=SETUP_TIMEOUT_S,
                             keep_background=self.spec.keep_background)
        if not result.ok:
            ending = "timed out" if result.timed_out else f"exit code {result.exit_code}"
            output = (result.stdout + result.stderr)[-2000:]
            raise EnvironmentSetupError(f"the {what} of task {self.task.id!r} failed ({ending}):\n{output}")

    def _wait_healthy(self, sandbox: Sandbox, check: dict[str, Any]) -> None:
        """Harbor's healthcheck: after the start period, ``retries`` consecutive failures mean unhealthy."""
        started = time.monotonic()
        failures = 0
        while True:
            result = sandbox.run(["/bin/sh", "-c", check["command"]], cwd=self.start_dir, env=self.env,
                                 timeout_s=check["timeout_sec"], keep_background=self.spec.keep_background)
            if result.ok:
                return
            in_start_period = time.monotonic() - started < check["start_period_sec"]
            failures += 0 if in_start_period else 1
            if failures >= max(1, check["retries"]):
                raise EnvironmentSetupError(f"task {self.task.id!r}: the environment's healthcheck "
                                            f"{check['command']!r} kept failing")
            time.sleep(check["start_interval_sec"] if in_start_period else check["interval_sec"])

    # --- images of tasks with their own environment ----------------------------------------------------------------

    def _agent_image(self) -> tuple[str, str]:
        if self._image is None:
            where = f"the environment of task {self.task.id!r}"
            image = task_image(_docker_client(), context=self.spec.context, docker_image=self.spec.docker_image,
                               base_images=self._base_images, timeout_s=self.spec.build_timeout_s, where=where)
            self._image = runnable_image(_docker_client(), image, workdir=self.spec.workdir, where=where)
        return self._image

    def _verifier_image(self) -> tuple[str, str]:
        spec = self.spec
        if spec.verifier_image is None and spec.verifier_context is None:
            return self._agent_image()
        where = f"the verifier environment of task {self.task.id!r}"
        image = task_image(_docker_client(), context=spec.verifier_context, docker_image=spec.verifier_image,
                           base_images=self._base_images, timeout_s=spec.build_timeout_s, where=where)
        return runnable_image(_docker_client(), image, workdir=spec.workdir, where=where)

    def _start_own(self, image: str) -> Sandbox:
        spec = self.spec
        memory_mb = spec.memory_mb or self._limits.memory_mb
        # /work and /tmp are tmpfs, whose files count against memory: they get what the task's memory leaves
        disk_mb = max(1, min(spec.storage_mb or self._limits.disk_mb, (memory_mb - EXECUTOR_HEADROOM_MB) // 2))
        limits = dataclasses.replace(self._limits, read_only_root=False, cpus=spec.cpus or self._limits.cpus,
                                     memory_mb=memory_mb, disk_mb=disk_mb)
        try:
            return Sandbox(image, limits, labels={"selfgym.harbor.task": self.task.id[:60]})
        except SandboxStartError as exc:
            raise SandboxStartError(f"{exc} (task {self.task.id!r}: an ENTRYPOINT in its image must end by running "
                                    "its arguments, `exec \"$@\"`, as Harbor's `sleep infinity` needs too)") from None


def _docker_client():
    from ...sandbox import docker_client  # Docker's SDK loads with the first task image, not with the env

    return docker_client()
