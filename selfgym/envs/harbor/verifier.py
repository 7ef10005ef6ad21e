"""Harbor's verifier on selfgym's sandbox: collect hooks, artifacts, the test script, and the reward files.

As Harbor does, after the agent: the ``[[verifier.collect]]`` hooks run in the agent's container (as the agent's
uid: selfgym never grants root), the tests are copied to ``/tests`` and ``tests/test.sh`` runs from the working
directory, and the reward is read from ``/logs/verifier/reward.json`` (flat name -> number), else
``/logs/verifier/reward.txt`` (one number). In separate mode the tests run in a fresh environment that receives
only ``/logs/artifacts`` and the task's declared ``artifacts``.

The tests run under the verifier's uid, which the agent's processes cannot trace, signal or read, with the check
scripts' hardened environment (:mod:`selfgym.sandbox.checks`) and ``as_agent CMD...`` to run the agent's programs
as the agent. What a test script runs itself runs as the verifier: a Harbor test that executes code the agent
wrote (``pytest`` importing the agent's modules, say) hands that code the verifier's rights, as Harbor's own
verifier hands it root. selfgym's own tasks run such code in ``[[verifier.collect]]`` hooks (as the agent) and
judge its output.

Everything that comes back from the sandbox is bounded and validated: a missing, empty, oversized, non-numeric or
non-finite reward is a failed verification (reward 0, with the reason), never a crash and never a pass.
"""

from __future__ import annotations

import io
import json
import math
import tarfile
from dataclasses import dataclass, field

from ...sandbox import Sandbox, SandboxError
from .files import folder_files
from .layout import (
    ARTIFACTS_DIR,
    CLEAR_VERIFIER,
    RESTORE_SEED_TESTS,
    REWARD_JSON,
    REWARD_TXT,
    TESTS_DIR,
    VERIFIER_HOME,
)
from .spec import HarborSpec

MAX_REWARD_BYTES = 64 * 1024
MAX_TESTS_BYTES = 64 * 1024 * 1024
MAX_ARTIFACTS_BYTES = 64 * 1024 * 1024
ARTIFACTS_TAR = "/tmp/.selfgym-artifacts.tar"
# Run as the agent: a tar of each artifact path that exists, read with the agent's rights (a link the agent
# planted resolves as the agent, so it cannot make the host copy a file the agent may not read).
_PACK_ARTIFACTS = r"""
import json, os, sys, tarfile
with tarfile.open(sys.argv[1], "w") as tar:
    for path in json.loads(os.environ["SELFGYM_ARTIFACTS"]):
        real = os.path.realpath(path)
        if not os.path.lexists(real):
            continue
        try:
            tar.add(real, arcname=path.lstrip("/"))
        except OSError as exc:
            print("artifact %s: %s" % (path, exc), file=sys.stderr)
"""


# The test script runs as the judge of a judged run whose subject is the agent's side of `as_agent` (the check
# scripts' prelude exports it and `vgit`, so that test.sh and what it starts can call them); from the working directory.
_RUN_TESTS = f"""
cd "$SELFGYM_TESTS_CWD" || exit 1
{TESTS_DIR}/test.sh
"""


# --- the verdict -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Verdict:
    """What the verifier decided: the reward (0 when it could not be read, with ``error`` saying why), every
    reward it wrote (``reward.json`` may hold several), and its output."""

    reward: float
    rewards: dict[str, float] = field(default_factory=dict)
    output: str = ""
    error: str | None = None


def parse_rewards(json_bytes: bytes | None, text_bytes: bytes | None) -> dict[str, float]:
    """Harbor's reward files, read as Harbor reads them (JSON first); ``ValueError`` saying what is wrong."""
    if json_bytes is not None:
        if not json_bytes.strip():
            raise ValueError("reward.json is empty")
        try:
            rewards = json.loads(json_bytes.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise ValueError("reward.json is not valid JSON") from None
        if not isinstance(rewards, dict) or not rewards:
            raise ValueError("reward.json must be a non-empty JSON object of name -> number")
        for name, value in rewards.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"reward.json: {name!r} is {value!r}, not a finite number")
        return {str(name): float(value) for name, value in rewards.items()}
    if text_bytes is not None:
        text = text_bytes.decode("utf-8", "replace").strip()
        if not text:
            raise ValueError("reward.txt is empty")
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"reward.txt holds {text[:40]!r}, not a number") from None
        if not math.isfinite(value):
            raise ValueError(f"reward.txt holds {text[:40]!r}, not a finite number")
        return {"reward": value}
    raise ValueError("the tests wrote neither /logs/verifier/reward.json nor /logs/verifier/reward.txt")


def scalar_reward(rewards: dict[str, float]) -> float:
    """The episode's reward: the one named ``reward``, else the only one, else their mean."""
    if "reward" in rewards:
        return rewards["reward"]
    return sum(rewards.values()) / len(rewards)


# --- steps of a verification -----------------------------------------------------------------------------------

def run_collect_hooks(sandbox: Sandbox, spec: HarborSpec, env: dict[str, str], *, cwd: str) -> list[str]:
    """Run the collect hooks in the agent's sandbox, as the agent; notes on those that failed (Harbor goes on)."""
    notes = []
    for hook in spec.collect:
        result = sandbox.run(["/bin/bash", "-c", hook.command], cwd=cwd, env=env,
                             timeout_s=hook.timeout_s, keep_background=spec.keep_background)
        if not result.ok:
            ending = "timed out" if result.timed_out else f"exit code {result.exit_code}"
            notes.append(f"collect hook {hook.command[:60]!r}: {ending}")
    return notes


def take_artifacts(sandbox: Sandbox, spec: HarborSpec) -> dict[str, tuple[bytes, int]]:
    """The artifacts of the agent's sandbox (``/logs/artifacts`` and the declared ones): absolute path ->
    (bytes, mode). Regular files only; links and special files are dropped, modes lose set-id bits."""
    paths = [ARTIFACTS_DIR, *spec.artifacts]
    result = sandbox.run(["python3", "-I", "-c", _PACK_ARTIFACTS, ARTIFACTS_TAR], env={
        "SELFGYM_ARTIFACTS": json.dumps(paths)}, timeout_s=60, keep_background=spec.keep_background)
    if not result.ok:
        return {}
    try:
        data = sandbox.read_file(ARTIFACTS_TAR, max_bytes=MAX_ARTIFACTS_BYTES)
    except SandboxError:
        return {}
    return files_of_tar(data, MAX_ARTIFACTS_BYTES)


def files_of_tar(data: bytes, max_total: int) -> dict[str, tuple[bytes, int]]:
    """The regular files of a tar made in a sandbox (hostile input): relative names without '..', bounded."""
    files: dict[str, tuple[bytes, int]] = {}
    total = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            for member in tar:
                name = member.name.lstrip("/")
                if not member.isfile() or not name or ".." in name.split("/"):
                    continue
                total += member.size
                if total > max_total:
                    break
                handle = tar.extractfile(member)
                if handle is not None:
                    files["/" + name] = (handle.read(), member.mode & 0o755)
    except (tarfile.TarError, EOFError, OSError):
        pass  # what was read before the damage is kept; the rest is the agent's loss
    return files


def put_files(sandbox: Sandbox, files: dict[str, tuple[bytes, int]], *, user: str) -> None:
    """Write ``files`` (path -> (bytes, mode)) into a sandbox as ``user`` ("agent" or "verifier"), one call per
    mode."""
    by_mode: dict[int, dict[str, bytes]] = {}
    for path, (data, mode) in files.items():
        by_mode.setdefault(0o755 if mode & 0o111 else 0o644, {})[path] = data
    for mode, group in by_mode.items():
        sandbox.write_files(group, mode=mode, user=user)


def test_files(spec: HarborSpec) -> dict[str, tuple[bytes, int]]:
    """The files to copy to ``/tests``: the task's ``tests/`` folder (then a step's, over it, as Harbor uploads
    both), and the test script the layout implies."""
    folders = [folder for folder in (spec.tests_dir, spec.step_tests_dir) if folder is not None]
    try:
        files = folder_files(folders, TESTS_DIR, max_bytes=MAX_TESTS_BYTES)
    except ValueError as exc:
        raise ValueError(f"{exc} of tests") from None
    if spec.test_script is not None:
        files[f"{TESTS_DIR}/test.sh"] = (spec.test_script.encode(), 0o755)
    script = files.get(f"{TESTS_DIR}/test.sh")
    if script is not None:
        files[f"{TESTS_DIR}/test.sh"] = (script[0], 0o755)  # Harbor makes it executable before running it
    return files


def run_tests(sandbox: Sandbox, spec: HarborSpec, env: dict[str, str], *, cwd: str) -> Verdict:
    """Copy the tests in (or, when the verifier's image bundles them, where the layer of :mod:`.images` saved
    them), run ``/tests/test.sh`` as the verifier from ``cwd`` (the working directory), and read the reward."""
    keep = spec.keep_background  # a command that does not keep background processes kills all of them
    cleared = sandbox.run(["/bin/sh", "-c", CLEAR_VERIFIER], timeout_s=30, keep_background=keep,
                          user="verifier")
    if not cleared.ok:
        return Verdict(0.0, error=f"could not clear the verifier's folders: {cleared.stdout + cleared.stderr}")
    if spec.tests_dir is not None or spec.step_tests_dir is not None or spec.test_script is not None:
        put_files(sandbox, test_files(spec), user="verifier")
    else:
        sandbox.run(["/bin/sh", "-c", RESTORE_SEED_TESTS], timeout_s=60, keep_background=keep, user="verifier")
    # the checks' hardened environment, with a HOME of the verifier's own (writable, unlike the checks' "/"): in
    # /work the agent could have planted dotfiles (git config, Python's user site)
    test_env = {**env, **spec.verifier_env, "HOME": VERIFIER_HOME, "PYTHONNOUSERSITE": "1",
                "SELFGYM_TESTS_CWD": cwd}
    result = sandbox.run_check(_RUN_TESTS, env=test_env, timeout_s=spec.verifier_timeout_s)
    output = result.stdout + result.stderr
    if result.timed_out:
        return Verdict(0.0, output=output, error=f"the tests timed out after {spec.verifier_timeout_s:g} s")
    try:
        rewards = parse_rewards(_read_optional(sandbox, REWARD_JSON, keep), _read_optional(sandbox, REWARD_TXT, keep))
    except ValueError as exc:
        return Verdict(0.0, output=output, error=str(exc))
    return Verdict(scalar_reward(rewards), rewards, output)


def _read_optional(sandbox: Sandbox, path: str, keep_background: bool) -> bytes | None:
    exists = sandbox.run(["test", "-f", path], timeout_s=10, keep_background=keep_background, user="verifier")
    if not exists.ok:
        return None
    try:
        return sandbox.read_file(path, max_bytes=MAX_REWARD_BYTES, user="verifier")
    except SandboxError as exc:
        raise ValueError(f"{path} could not be read: {exc}") from None
