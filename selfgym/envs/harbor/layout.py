"""Harbor's fixed paths inside a selfgym sandbox, and who may touch them.

Harbor's test scripts write ``/logs/verifier/reward.txt`` and read ``/tests/...``; the sandbox's root file system
is read-only, so those paths are links (made in the image: ``docker/python.Dockerfile`` and the layer of
:mod:`.images`) into ``/tmp/.harbor``, whose folders the *verifier's* uid makes at the start of every episode,
before the agent's first command::

    /tmp/.harbor            0755  the verifier's: the agent can neither remove nor replace it (/tmp is sticky)
    ├── tests               0700  the verifier's: the test files, copied in only when the agent has submitted
    ├── verifier            0700  the verifier's: /logs/verifier, where the reward is written and read
    ├── home                0700  the verifier's: its $HOME (not /work, where the agent could plant dotfiles)
    ├── agent, artifacts    1777  anyone's: /logs/agent, and /logs/artifacts, which a separate verifier receives
    └── solution            1777  anyone's: /solution, for the reference solution's own files

So the agent's processes (uid 1000) can neither read the tests nor forge or read the reward, which the verifier's
uid (1001) writes and reads. A sandbox reset empties ``/tmp``, hence all of it.
"""

from __future__ import annotations

ROOT = "/tmp/.harbor"
TESTS_DIR = "/tests"
REWARD_DIR = "/logs/verifier"
ARTIFACTS_DIR = "/logs/artifacts"
SOLUTION_DIR = "/solution"
REWARD_JSON = f"{REWARD_DIR}/reward.json"
REWARD_TXT = f"{REWARD_DIR}/reward.txt"
VERIFIER_HOME = f"{ROOT}/home"
SEED_DIR = "/opt/selfgym/seed"  # what a task image kept in /work and /tests, saved by the layer of .images

# Run as root when an image is built: the links (the same as docker/python.Dockerfile's).
LAYOUT_COMMAND = (
    f"mkdir -p /logs && ln -sfn {ROOT}/tests {TESTS_DIR} && ln -sfn {ROOT}/solution {SOLUTION_DIR}"
    f" && for d in agent verifier artifacts; do ln -sfn {ROOT}/$d /logs/$d; done"
)

# Run as the verifier at the start of an episode; `mkdir` without -p fails if the agent got there first.
MAKE_FOLDERS = (
    f"[ -L {TESTS_DIR} ] && [ -L {REWARD_DIR} ] || {{ echo 'this image lacks the links of Harbor paths into "
    f"{ROOT} (see selfgym/envs/harbor/layout.py)' >&2; exit 3; }}\n"
    f"mkdir -m 0755 {ROOT}\n"
    f"mkdir -m 0700 {ROOT}/tests {ROOT}/verifier {ROOT}/home\n"
    f"mkdir -m 1777 {ROOT}/agent {ROOT}/artifacts {ROOT}/solution\n"
)

# Run as the verifier before the tests: no reward or test file of an earlier attempt stays.
CLEAR_VERIFIER = f"find {ROOT}/tests {ROOT}/verifier -mindepth 1 -delete\n"

# Run as the verifier when a task image bundles its tests (separate mode with tests/Dockerfile).
RESTORE_SEED_TESTS = f"if [ -d {SEED_DIR}/tests ]; then cp -r {SEED_DIR}/tests/. {ROOT}/tests/; fi\n"

# Run as the agent when a task image kept files in /work, which the sandbox's tmpfs hides.
RESTORE_SEED_WORK = f"if [ -d {SEED_DIR}/work ]; then cp -r {SEED_DIR}/work/. /work/; fi\n"
