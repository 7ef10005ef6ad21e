"""Checks treat every file of the agent's as data (issue 24, item 2).

* ``vgit``, the checks' git: every git feature that runs a program or changes what git reports, planted in the
  agent's repository, is ignored; nothing planted runs, and git reports the repository's true state. Played on the
  host (the snapshot code is plain Python) and, for the attack that worked, through ``gym.make`` in the sandbox.
* No shipped task compares against a value the agent can write: the lint over every shipped task, and the attacks
  on the tasks that did (``archives-011``'s ``.expected``, ``permissions-009``'s ``.sums``...).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from selfgym.envs import Task
from selfgym.envs.harbor import TaskDirError, read_task
from selfgym.envs.audit.base import play
from selfgym.envs.shell import shipped_tasks, shipped_tasks_dir, tasks_from_entries
from selfgym.envs.shell.export import write_task
from selfgym.sandbox import vgit
from selfgym.sandbox.reference_lint import reference_problems

VGIT = Path(vgit.__file__)
GIT_ENV = {"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "a",
           "GIT_AUTHOR_EMAIL": "a@x", "GIT_COMMITTER_NAME": "a", "GIT_COMMITTER_EMAIL": "a@x",
           "HOME": "/nonexistent", "PATH": os.environ["PATH"]}


def git(repo: Path, *args: str, check: bool = True) -> str:
    """git as the agent would run it, in ``repo``."""
    done = subprocess.run(["git", *args], cwd=repo, env=GIT_ENV, capture_output=True, text=True)
    if check and done.returncode:
        raise AssertionError(f"git {args}: {done.stderr}")
    return done.stdout


def run_vgit(where: Path, *args: str, cache: Path) -> subprocess.CompletedProcess:
    """``vgit`` as a check runs it: ``python3 -I``, from ``where``."""
    env = {"SELFGYM_VGIT_DIR": str(cache), "PATH": "/usr/bin:/bin", "PWD": str(where),
           "GIT_DIR": "/nonexistent/planted-by-env"}  # a check's stray GIT_* never reaches git
    return subprocess.run([sys.executable, "-I", str(VGIT), *args], cwd=where, env=env, capture_output=True,
                          text=True)


@pytest.fixture
def repo(tmp_path) -> Path:
    """A committed repository with one modified file, one untracked file and a clean one."""
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "a.txt").write_text("one\n")
    (path / "b.txt").write_text("two\n")
    git(path, "add", ".")
    git(path, "commit", "-qm", "first")
    (path / "a.txt").write_text("one changed\n")
    (path / "new.txt").write_text("untracked\n")
    return path


TRUE_STATUS = " M a.txt\n?? new.txt\n"


@pytest.fixture
def cache(tmp_path) -> Path:
    path = tmp_path / "snapshots"
    path.mkdir()
    return path


def agent_owns(link: Path) -> None:
    """A link of the agent's: vgit follows only root's (the image's); the tests may run as root."""
    if os.geteuid() == 0:
        os.lchown(link, 1000, 1000)


def marker_command(tmp_path: Path, name: str) -> str:
    return f"touch {tmp_path}/RAN-{name}; echo forged; exit 0"


def assert_status_true(repo: Path, cache: Path, tmp_path: Path, expected: str = TRUE_STATUS) -> None:
    result = run_vgit(repo, ".", "status", "--porcelain", cache=cache)
    assert (result.returncode, result.stdout) == (0, expected), result.stderr
    assert not list(tmp_path.glob("RAN-*")), "a program the agent planted ran"


# --- git features that run a program ------------------------------------------------------------------------------

def test_config_programs_never_run(repo, cache, tmp_path):
    for key, name in [("core.fsmonitor", "fsmonitor"), ("core.pager", "pager"), ("core.editor", "editor"),
                      ("filter.evil.clean", "clean"), ("filter.evil.smudge", "smudge"),
                      ("filter.evil.process", "process"), ("diff.evil.textconv", "textconv"),
                      ("diff.external", "external"), ("core.sshCommand", "ssh"), ("gpg.program", "gpg"),
                      ("core.alternateRefsCommand", "altrefs")]:
        git(repo, "config", key, marker_command(tmp_path, name))
    git(repo, "config", "filter.evil.required", "true")
    git(repo, "config", "log.showSignature", "true")
    git(repo, "config", "alias.lg", f"!{marker_command(tmp_path, 'alias')}")
    (repo / ".gitattributes").write_text("* filter=evil diff=evil\n")
    assert_status_true(repo, cache, tmp_path, " M a.txt\n?? .gitattributes\n?? new.txt\n")
    for args in (["diff"], ["log", "-p"], ["show", "HEAD"], ["diff", "--cached"], ["add", "-n", "."]):
        result = run_vgit(repo, ".", *args, cache=cache)
        assert result.returncode == 0, (args, result.stderr)
        assert "forged" not in result.stdout
    assert "one changed" in run_vgit(repo, ".", "diff", cache=cache).stdout  # no textconv in between
    assert run_vgit(repo, ".", "lg", cache=cache).returncode != 0  # the agent's aliases do not exist
    assert not list(tmp_path.glob("RAN-*"))


def test_hooks_never_run(repo, cache, tmp_path):
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    for folder in (hooks, repo / ".git" / "hooks"):
        folder.mkdir(exist_ok=True)
        for hook in ("post-index-change", "pre-commit", "post-checkout", "reference-transaction", "fsmonitor-watchman"):
            (folder / hook).write_text(f"#!/bin/sh\n{marker_command(tmp_path, hook)}\n")
            (folder / hook).chmod(0o755)
    git(repo, "config", "core.hooksPath", str(hooks))
    assert_status_true(repo, cache, tmp_path)  # status refreshes the index: post-index-change would run
    assert run_vgit(repo, ".", "update-index", "--refresh", cache=cache).returncode in (0, 1)
    assert not list(tmp_path.glob("RAN-*"))


def test_included_config_is_never_read(repo, cache, tmp_path):
    (tmp_path / "extra.cfg").write_text(f"[core]\n\tfsmonitor = {marker_command(tmp_path, 'include')}\n"
                                        "[status]\n\tshowUntrackedFiles = no\n")
    git(repo, "config", "include.path", str(tmp_path / "extra.cfg"))
    git(repo, "config", f"includeIf.gitdir:{repo}/.path", str(tmp_path / "extra.cfg"))
    assert_status_true(repo, cache, tmp_path)


def one_commit_repo(path: Path, content: str) -> Path:
    """A repository at ``path`` with one commit of a file ``f`` holding ``content``."""
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / "f").write_text(content)
    git(path, "add", "f")
    git(path, "commit", "-qm", "one")
    return path


def test_submodules_and_nested_repositories_are_never_entered(repo, cache, tmp_path):
    # the attack that worked: a submodule whose own config names an fsmonitor; status recursed into it
    upstream = one_commit_repo(tmp_path / "upstream", "x\n")
    git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(upstream), "sub")
    git(repo, "commit", "-qm", "add sub")
    git(repo / "sub", "config", "core.fsmonitor", marker_command(tmp_path, "submodule"))
    (repo / "sub" / "f").write_text("changed in the submodule\n")
    # an embedded repository (a folder with a .git of its own) and one reached through a .git file
    nested = repo / "nested"
    nested.mkdir()
    git(nested, "init", "-q")
    git(nested, "config", "core.fsmonitor", marker_command(tmp_path, "nested"))
    (repo / "linked").mkdir()
    (repo / "linked" / ".git").write_text(f"gitdir: {upstream}/.git\n")
    git(upstream, "config", "core.fsmonitor", marker_command(tmp_path, "gitfile"))
    for args in (["status", "--porcelain"], ["status", "--porcelain", "--ignore-submodules=none"],
                 ["diff", "--submodule=diff"], ["status"]):
        result = run_vgit(repo, ".", *args, cache=cache)
        assert result.returncode == 0, (args, result.stderr)
    assert not list(tmp_path.glob("RAN-*")), "git entered a repository the agent planted"


# --- git features that change what git reports ---------------------------------------------------------------

def test_index_flags_and_caches_do_not_hide_changes(repo, cache, tmp_path):
    (repo / "b.txt").write_text("two changed\n")
    git(repo, "update-index", "--assume-unchanged", "a.txt")
    git(repo, "update-index", "--skip-worktree", "b.txt")
    git(repo, "config", "core.untrackedCache", "true")
    git(repo, "update-index", "--untracked-cache")
    git(repo, "update-index", "--split-index")
    assert git(repo, "status", "--porcelain") == "?? new.txt\n"  # what the agent's git says
    assert_status_true(repo, cache, tmp_path, " M a.txt\n M b.txt\n?? new.txt\n")


def test_ignore_rules_outside_the_tree_do_not_hide_files(repo, cache, tmp_path):
    (repo / ".git" / "info").mkdir(exist_ok=True)
    (repo / ".git" / "info" / "exclude").write_text("*\n")
    (tmp_path / "ignore").write_text("*\n")
    git(repo, "config", "core.excludesFile", str(tmp_path / "ignore"))
    git(repo, "config", "status.showUntrackedFiles", "no")
    assert git(repo, "status", "--porcelain") == " M a.txt\n"
    assert_status_true(repo, cache, tmp_path)


def test_replace_refs_grafts_and_shallow_do_not_rewrite_history(repo, cache, tmp_path):
    git(repo, "commit", "-qam", "second")
    first = git(repo, "rev-parse", "HEAD~1").strip()
    fake = git(repo, "commit-tree", "-m", "forged", git(repo, "rev-parse", "HEAD^{tree}").strip()).strip()
    git(repo, "replace", "HEAD", fake)
    second = git(repo, "rev-parse", "HEAD").strip()
    (repo / ".git" / "info").mkdir(exist_ok=True)
    (repo / ".git" / "info" / "grafts").write_text(f"{first}\n")
    (repo / ".git" / "shallow").write_text(f"{second}\n")
    assert git(repo, "log", "--format=%s") == "forged\n"
    result = run_vgit(repo, ".", "log", "--format=%s", cache=cache)
    assert result.stdout == "second\nfirst\n", result.stderr


def test_alternates_and_work_tree_redirections_are_not_followed(repo, cache, tmp_path):
    elsewhere = one_commit_repo(tmp_path / "elsewhere", "one changed\n")
    (repo / ".git" / "objects" / "info").mkdir(exist_ok=True)
    (repo / ".git" / "objects" / "info" / "alternates").write_text(f"{elsewhere}/.git/objects\n")
    git(repo, "config", "core.worktree", str(elsewhere))
    git(repo, "update-ref", "refs/heads/other", git(elsewhere, "rev-parse", "HEAD").strip())
    # the commit lives only in the alternate store: the snapshot does not have it
    assert run_vgit(repo, ".", "cat-file", "-e", "refs/heads/other", cache=cache).returncode != 0
    assert_status_true(repo, cache, tmp_path)  # the repository's own work tree, not core.worktree


def test_a_git_file_or_link_to_another_repository_is_refused(repo, cache, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / ".git").write_text(f"gitdir: {repo}/.git\n")
    result = run_vgit(other, ".", "status", "--porcelain", cache=cache)
    assert result.returncode == 128 and ".git file or link" in result.stderr
    (tmp_path / "linked").mkdir()
    (tmp_path / "linked" / ".git").symlink_to(repo / ".git")
    assert run_vgit(tmp_path / "linked", ".", "status", cache=cache).returncode == 128


def test_links_the_agent_planted_are_never_followed(repo, cache, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("the verifier's\n")
    (repo / "a.txt").unlink()
    (repo / "a.txt").symlink_to(secret)  # a tracked file replaced by a link: a type change, its target unread
    (tmp_path / "via").symlink_to(repo)
    agent_owns(tmp_path / "via")
    result = run_vgit(tmp_path, "via", "status", "--porcelain", cache=cache)
    assert result.returncode == 128 and "not the image's" in result.stderr  # a repository reached through a link
    result = run_vgit(repo, ".", "status", "--porcelain", cache=cache)
    assert result.stdout == " T a.txt\n?? new.txt\n", result.stderr
    assert run_vgit(repo, ".", "diff", cache=cache).stdout.count("the verifier's") == 0
    (repo / ".git" / "refs" / "heads" / "stolen").symlink_to(secret)  # a ref that is a link: left out
    assert "stolen" not in run_vgit(repo, ".", "branch", "--list", cache=cache).stdout


def test_special_files_and_unreadable_repositories_end_the_check_not_hang_it(repo, cache, tmp_path):
    os.mkfifo(repo / "pipe")  # opening a fifo for reading would block: it is left out, as git leaves it
    assert run_vgit(repo, ".", "status", "--porcelain", cache=cache).returncode == 0
    locked = repo / "locked"
    locked.mkdir()
    (locked / "x").write_text("x")
    locked.chmod(0)
    try:
        if os.geteuid() != 0:  # root reads through modes
            result = run_vgit(repo, ".", "status", cache=cache)
            assert result.returncode == 128 and "Permission denied" in result.stderr
    finally:
        locked.chmod(0o755)


# --- what stays as git would say it -------------------------------------------------------------------------------

def test_the_snapshot_reports_what_git_reports_on_an_honest_repository(repo, cache, tmp_path):
    (repo / "sub").mkdir()
    (repo / "sub" / "c.txt").write_text("c\n")
    (repo / "run.sh").write_text("#!/bin/sh\n")
    (repo / "run.sh").chmod(0o755)
    (repo / ".gitignore").write_text("*.log\n")
    (repo / "sub" / "x.log").write_text("log\n")
    git(repo, "add", "sub", "run.sh", ".gitignore")
    git(repo, "tag", "v1")
    git(repo, "stash", "-q")
    git(repo, "stash", "apply", "-q")
    git(repo, "update-index", "--chmod=-x", "run.sh")
    for args in (["status", "--porcelain"], ["ls-files", "-s"], ["log", "--format=%H %s", "--all"],
                 ["stash", "list"], ["diff"], ["diff", "--cached"], ["check-ignore", "-v", "sub/x.log"],
                 ["rev-parse", "HEAD", "v1"]):
        assert run_vgit(repo, ".", *args, cache=cache).stdout == git(repo, *args, check=False), args
    # vgit REPO is git -C REPO: paths are relative to REPO, a folder anywhere in the repository
    assert run_vgit(repo / "sub", ".", "ls-files", cache=cache).stdout == "c.txt\n"
    assert run_vgit(repo / "sub", "..", "ls-files", "sub", cache=cache).stdout == "sub/c.txt\n"
    assert run_vgit(tmp_path, "repo", "ls-files", "sub", cache=cache).stdout == "sub/c.txt\n"


def test_a_merge_in_progress_and_a_sha256_repository_are_judged_as_they_are(tmp_path, cache):
    repo = tmp_path / "sha"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main", "--object-format=sha256")
    (repo / "f").write_text("base\n")
    git(repo, "add", "f")
    git(repo, "commit", "-qm", "base")
    git(repo, "switch", "-qc", "side")
    (repo / "f").write_text("side\n")
    git(repo, "commit", "-qam", "side")
    git(repo, "switch", "-q", "main")
    (repo / "f").write_text("main\n")
    git(repo, "commit", "-qam", "main")
    git(repo, "merge", "side", check=False)
    for args in (["status", "--porcelain"], ["rev-parse", "HEAD", "MERGE_HEAD"], ["ls-files", "-s"]):
        assert run_vgit(repo, ".", *args, cache=cache).stdout == git(repo, *args), args


# --- the static lint: what a check compares with is not in the agent's reach -------------------------------------

# Checks that shipped before (issue 24): each compares with a value the agent can write.
IN_REACH = {
    "digest in /work": ("sha256sum < <(seq 1 20000) | cut -d' ' -f1 > .expected",
                        '[ "$(sha256sum < big.txt | cut -d\' \' -f1)" = "$(cat .expected)" ]'),
    "digest list in /work": ("sha256sum deploy.sh > .sums", "sha256sum --quiet -c .sums"),
    "input as reference": ("printf 'b\\na\\n' > data.txt", '[ "$(sort sorted.txt)" = "$(sort data.txt)" ]'),
    "copy compared with its source": ("mkdir src && echo x > src/a.conf", "cmp -s dst/a.conf src/a.conf"),
    "folders compared with each other": ("mkdir -p src/a", '[ "$(cd src && find . -type d)" = "$(cd skel && find . -type d)" ]'),
    "time of an input as reference": ("touch backup.tar", '[ -z "$(find . -newer backup.tar -type f)" ]'),
    "modes compared with each other": ("mkdir -p bin/lib", '[ "$(stat -c %a bin/lib)" = "$(stat -c %a bin)" ]'),
}


@pytest.mark.parametrize("name", sorted(IN_REACH))
def test_the_lint_flags_a_reference_in_the_agents_reach(name):
    setup, check = IN_REACH[name]
    assert reference_problems(check, setup=setup, instruction="Do the task in /work.")


def test_the_lint_passes_references_kept_in_the_check_and_every_shipped_task():
    for check in ('[ "$(cat count.txt)" = 28 ]', "sha256sum --quiet -c - <<'SUMS'\nabc  deploy.sh\nSUMS",
                  'cmp -s legacy.txt <(printf \'Caf\\xc3\\xa9\\n\')', '[ "$(stat -c %a run.sh)" = 744 ]',
                  '[ "$SELFGYM_ANSWER" = "$(printf \'a/b.txt\')" ]', '[ "$(get http://127.0.0.1:8000/v.txt)" = v1 ]'):
        assert reference_problems(check, setup="echo x > count.txt", instruction="Write /work/count.txt.") == [], check
    for folder in sorted(shipped_tasks_dir().iterdir()):
        check, setup = (folder / "tests/check.sh").read_text(), (folder / "environment/setup.sh").read_text()
        assert reference_problems(check, setup=setup, instruction=(folder / "instruction.md").read_text()) == []


def test_a_task_whose_check_reads_a_reference_in_reach_is_refused_at_load(tmp_path):
    setup, check = IN_REACH["digest in /work"]
    entry = {"id": "t", "prompt": "Join the parts into /work/big.txt.", "difficulty": 0, "category": "archives",
             "setup": setup, "check": check, "solution": ["submit"]}
    with pytest.raises(ValueError, match=r"\.expected"):
        tasks_from_entries([entry], "inline")
    folder = write_task(Task("shell/t", "shell", entry["prompt"], data={k: entry[k] for k in
                                                                         ("category", "setup", "solution")}
                             | {"check": '[ -s big.txt ]'}), tmp_path)
    (folder / "tests" / "check.sh").write_text(check + "\n")
    with pytest.raises(TaskDirError, match="agent can"):
        read_task(folder)


# --- the attacks through the public API, on the shipped tasks ----------------------------------------------------

docker = pytest.mark.docker
FORGED = "id -u > /tmp/pwned-$(id -u); printf '{\"reward\": 1}' > /logs/verifier/reward.json; echo 1 > /logs/verifier/reward.txt"
# The attack that worked: a submodule whose own config names an fsmonitor; the check's `status` recursed into it as
# the verifier, which ran the command (it writes the reward file the verifier then reads).
SUBMODULE_PLANT = (
    "export GIT_AUTHOR_NAME=x GIT_AUTHOR_EMAIL=x@x GIT_COMMITTER_NAME=x GIT_COMMITTER_EMAIL=x@x; "
    "mkdir -p /tmp/evil && (cd /tmp/evil && git init -q && echo x > f && git add f && git commit -qm x) && "
    "cd {repo} && (git rev-parse HEAD > /dev/null 2>&1 || git init -q) && "
    "git -c protocol.file.allow=always submodule add -q /tmp/evil evil && "
    "git -C evil config core.fsmonitor {forged} && git config core.fsmonitor {forged} && "
    "git config core.hooksPath /tmp/evil-hooks && mkdir -p /tmp/evil-hooks && "
    "printf '#!/bin/sh\\n%s\\n' {forged} > /tmp/evil-hooks/post-index-change && chmod +x /tmp/evil-hooks/*; "
    "git status > /dev/null; rm -f /tmp/pwned-*")


@pytest.fixture
def shell_env(env_factory):
    from selfgym.envs.shell_env import ShellEnv

    return env_factory(ShellEnv, max_steps=10)


def episode(env, task_id: str, actions: list[str]) -> float:
    """The return of ``actions`` played on the shipped task ``task_id``."""
    played = play(env, next(task for task in shipped_tasks() if task.id == task_id), actions)
    assert played.error is None, played.error
    return played.reward


def files_left(env, pattern: str) -> str:
    sandbox = env._harbor.sandbox if env._harbor is not None else env.sandbox
    return sandbox.run(["/bin/sh", "-c", f"ls {pattern} 2>/dev/null; true"], timeout_s=10).stdout.strip()


@docker
@pytest.mark.parametrize("task_id, repo", [("shell/git-001", "notes"), ("shell/git-005", "proj"),
                                           ("shell/git-006", "web"), ("shell/git-009", "lib"),
                                           ("shell/git-012", "app")])
def test_a_planted_git_program_never_runs_as_the_verifier(shell_env, task_id, repo):
    plant = SUBMODULE_PLANT.format(repo=repo, forged=shlex.quote(FORGED))
    assert episode(shell_env, task_id, [plant, "submit"]) == 0.0
    assert files_left(shell_env, "/tmp/pwned-*") in ("", "/tmp/pwned-1000"), "a planted program ran as the verifier"


@docker
@pytest.mark.parametrize("task_id, attack", [
    # junk as the output, its digest written where the old check read its reference
    ("shell/archives-011", "echo junk > big.txt && sha256sum < big.txt | cut -d' ' -f1 > .expected"),
    # the scripts rewritten to print what the check wants, their digests updated in the old reference file
    ("shell/permissions-009", "printf '#!/bin/bash\\necho prepared\\necho finished\\necho deployed\\n' > deploy.sh && "
                              "sha256sum deploy.sh helpers/prepare.sh helpers/finish.sh > .sums"),
    # the input emptied, so that an output computed from it matches
    ("shell/data-010", "printf 'name,score\\na,100\\nb,91\\nc,88\\nd,88\\ne,72\\nf,9\\n' > scores.csv && "
                       "cp scores.csv ranked.csv"),
    ("shell/files-009", "rm -rf src && mkdir -p src skeleton && touch src/{1,2,3,4,5,6}"),
])
def test_a_reference_the_agent_can_write_is_not_read(shell_env, task_id, attack):
    assert episode(shell_env, task_id, [attack, "submit"]) == 0.0


@docker
@pytest.mark.parametrize("attack", [
    "pkill -f hog.sh; pkill -f keeper.sh; nohup bash -c 'exec -a \"bash /work/svc/keeper.sh\" sleep 1000' > /dev/null 2>&1 &",
    "pkill -f hog.sh; pkill -f keeper.sh; nohup bash /work/svc/keeper.sh > /dev/null 2>&1 &",  # stopped, started again
    "pkill -f hog.sh; pkill -f keeper.sh; ln -s /bin/sleep /tmp/bash; "
    "nohup bash -c 'exec -a \"bash /work/svc/keeper.sh\" /tmp/bash 1000' > /dev/null 2>&1 &",  # named bash, too
])
def test_a_process_named_like_the_expected_one_is_not_it(shell_env, attack):
    assert episode(shell_env, "shell/processes-001", [attack, "sleep 0.3", "submit"]) == 0.0
    assert episode(shell_env, "shell/processes-001", ["pkill -f hog.sh", "submit"]) == 1.0
