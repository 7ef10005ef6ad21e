"""The Shell-v0 / Harbor battery of ``selfgym audit``: positive controls (a known-hackable task of every class the
battery covers is caught by its probe class, a broken reference is reported broken) and the shipped tasks (none
hackable, none broken: the CI gate)."""

from __future__ import annotations

import pytest
from test_harbor import sandbox_task

from selfgym.envs.audit.base import audit_tasks
from selfgym.envs.audit.shell import Inventory, ShellBattery
from selfgym.envs.audit.sources import audit_source
from selfgym.envs.harbor import read_task
from selfgym.envs.shell import shipped_tasks
from selfgym.envs.shell_env import ShellEnv

TOML = "[verifier]\ntimeout_sec = 30.0\n"
REWARD = 'if [ "$ok" = 1 ]; then echo 1; else echo 0; fi > /logs/verifier/reward.txt\n'


def control(root, name, instruction, *, setup="", test, solve, wrong=None, keep_background=False, answer_file=None,
            test_files=None):
    """A Harbor task on selfgym's sandbox whose tests/test.sh judges with ``test`` (bash that sets ok=1)."""
    toml = TOML
    if answer_file:
        toml = f'answer_file = "{answer_file}"\n' + toml
    files = {"test.sh": "#!/bin/bash\ncd /work\nok=0\n" + test + "\n" + REWARD, **(test_files or {})}
    folder = sandbox_task(root, name, toml, setup=setup, tests=files, keep_background=keep_background)
    (folder / "instruction.md").write_text(instruction + "\n")
    (folder / "solution").mkdir()
    (folder / "solution" / "solve.sh").write_text("#!/bin/bash\n" + solve + "\n")
    if wrong:
        (folder / "solution" / "wrong-1.sh").write_text("#!/bin/bash\n" + wrong + "\n")
    return read_task(folder)


@pytest.fixture(scope="module")
def controls(tmp_path_factory):
    """name -> (task, the exploit class that must catch it, or "broken")."""
    root = tmp_path_factory.mktemp("controls")
    return {
        "digest-in-work": (control(
            root, "digest-in-work", "Write the numbers 1 to 100, one per line, to /work/numbers.txt.",
            setup="seq 100 | sha256sum | cut -d' ' -f1 > .expected",
            test='[ "$(sha256sum < numbers.txt | cut -d" " -f1)" = "$(cat .expected)" ] && ok=1',
            solve="seq 100 > /work/numbers.txt"), "tamper-digest"),
        "plain-git-status": (control(
            root, "plain-git-status", "In the git repository /work/repo, commit the file notes.txt.",
            setup="mkdir repo && cd repo && git init -q && echo a > notes.txt",
            test='[ -z "$(git --git-dir=repo/.git --work-tree=repo status --porcelain)" ] && '
                 '[ -n "$(git --git-dir=repo/.git --work-tree=repo log --oneline 2>/dev/null)" ] && ok=1',
            solve="cd /work/repo && git add notes.txt && git -c user.name=a -c user.email=a@x commit -qm notes"),
            "git-plant"),
        "agent-reward-file": (control(
            root, "agent-reward-file", "Write hello to /work/hello.txt.",
            test='if [ -f /logs/agent/reward.txt ]; then ok=$(cat /logs/agent/reward.txt); '
                 'else [ "$(cat hello.txt)" = hello ] && ok=1; fi',
            solve="echo hello > /work/hello.txt"), "reward-file"),
        "trusts-pgrep": (control(
            root, "trusts-pgrep", "Stop the process running /work/hog.sh; keep /work/keeper.sh running.",
            setup="printf 'while :; do sleep 1; done\\n' > hog.sh; cp hog.sh keeper.sh\n"
                  "nohup bash /work/hog.sh > /dev/null 2>&1 &\nnohup bash /work/keeper.sh > /dev/null 2>&1 &",
            test="[ -z \"$(pgrep -f '[h]og\\.sh')\" ] && [ -n \"$(pgrep -f '[k]eeper\\.sh')\" ] && ok=1",
            solve="pkill -f hog.sh; sleep 0.2", keep_background=True), "fake-process"),
        "expected-from-input": (control(
            root, "expected-from-input", "Sort the numbers of /work/data.txt in increasing order into "
            "/work/sorted.txt.", setup="printf '3\\n1\\n2\\n' > data.txt",
            test="sort -n data.txt | diff -q - sorted.txt > /dev/null && ok=1",
            solve="sort -n /work/data.txt > /work/sorted.txt"), "tamper-junk"),
        "reference-in-tests": (control(
            root, "reference-in-tests", "Write the word ready to /work/result.txt.",
            test="cmp -s result.txt /tests/result.txt && ok=1", test_files={"result.txt": "ready\n"},
            solve="echo ready > /work/result.txt"), "tamper-link"),
        "any-answer-with-42": (control(
            root, "any-answer-with-42", "What is 6 times 7? Write the number to /work/answer.txt.",
            test="grep -q 42 answer.txt && ok=1", solve="echo 42 > /work/answer.txt",
            answer_file="/work/answer.txt"), "hedge"),
        "wrong-solution-passes": (control(
            root, "wrong-solution-passes", "Write hello to /work/hello.txt, in upper case.",
            test='grep -qi "^hello$" hello.txt && ok=1', solve="echo HELLO > /work/hello.txt",
            wrong="echo hello > /work/hello.txt"), "wrong-solution"),
        "passes-untouched": (control(
            root, "passes-untouched", "Write the word done to /work/status.txt.",
            test='[ "$(cat status.txt 2>/dev/null)" != failed ] && ok=1', solve="echo done > /work/status.txt"),
            "null-agent"),
        "any-answer": (control(
            root, "any-answer", "How many lines does /work/list.txt have? Write the number to /work/answer.txt.",
            setup="printf 'a\\nb\\nc\\n' > list.txt", test="[ -s answer.txt ] && ok=1",
            solve="wc -l < /work/list.txt > /work/answer.txt", answer_file="/work/answer.txt"), "garbage-answer"),
        "deletes-the-cache": (control(
            root, "deletes-the-cache", "Delete /work/cache/old.log; keep /work/cache/new.log.",
            setup="mkdir cache; echo o > cache/old.log; echo n > cache/new.log",
            test="[ ! -e cache/old.log ] && ok=1", solve="rm /work/cache/old.log"), "tamper-delete"),
        "broken-reference": (control(
            root, "broken-reference", "Write hello to /work/hello.txt.",
            test='[ "$(cat hello.txt)" = hello ] && ok=1', solve="echo goodbye > /work/hello.txt"), "broken"),
    }


@pytest.fixture(scope="module")
def control_report(controls, pool):
    tasks = [task for task, _ in controls.values()]
    return audit_tasks(lambda: ShellEnv(pool=pool, max_steps=10), tasks, batteries=[ShellBattery()], workers=2,
                       progress=False)


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.parametrize("name", ["digest-in-work", "plain-git-status", "agent-reward-file", "trusts-pgrep",
                                  "expected-from-input", "reference-in-tests", "any-answer-with-42",
                                  "wrong-solution-passes", "passes-untouched", "any-answer",
                                  "deletes-the-cache", "broken-reference"])
def test_each_known_hackable_task_is_caught_by_its_probe_class(controls, control_report, name):
    task, expected = controls[name]
    audit = next(audit for audit in control_report.tasks if audit.task_id == task.id)
    if expected == "broken":
        assert audit.verdict == "broken" and [f.exploit for f in audit.findings] == ["reference"], audit.to_dict()
        return
    assert audit.verdict == "hackable", audit.to_dict()
    assert expected in audit.exploits, (expected, audit.exploits)
    assert all(f.exploit != "reference" for f in audit.findings), "the control's reference must pass"
    finding = next(f for f in audit.findings if f.exploit == expected)
    assert finding.reward > 0 and finding.actions and finding.actions[-1].startswith("submit")


def test_the_inventory_is_read_from_the_agents_shell_output():
    seen = Inventory.parse("@@selfgym-inventory@@ CWD /app\n@@selfgym-inventory@@ F f data/in.csv\n"
                           "@@selfgym-inventory@@ F d data\n@@selfgym-inventory@@ REPO ./repo\n"
                           "@@selfgym-inventory@@ DIGEST SUMS\n@@selfgym-inventory@@ PROC 12 1 bash /app/spin.sh\n"
                           "@@selfgym-inventory@@ PROC 13 12 sleep 1\n"
                           "noise\n[exit code 0]")
    assert (seen.cwd, seen.files, seen.folders, seen.repos, seen.digests) == (
        "/app", ["data/in.csv"], ["data"], ["repo"], ["SUMS"])
    assert seen.processes == [(12, "bash /app/spin.sh")]
    outputs = seen.named_outputs("Read /app/data/in.csv and write /app/out/report.txt and summary.json; "
                                 "see /usr/share/doc/x.txt.")
    assert outputs == ["/app/out/report.txt", "/app/summary.json"]


@pytest.mark.docker
@pytest.mark.slow
def test_no_shipped_task_is_hackable_or_broken(client, sandbox_image):
    """The CI gate: the battery over all shipped tasks (2 workers)."""
    from selfgym.sandbox import SandboxPool

    with SandboxPool(sandbox_image, size=2, client=client) as pool:  # what `selfgym audit selfgym/Shell-v0` runs
        report = audit_source("selfgym/Shell-v0", env_kwargs={"max_steps": 10}, pool=pool,
                              batteries=[ShellBattery()], workers=2, progress=False)
    assert len(report.tasks) == len(shipped_tasks())
    bad = [audit.to_dict() for audit in report.tasks if audit.verdict != "ok"]
    assert not bad, f"{len(bad)} shipped tasks are hackable or broken: {bad}"
