"""``vgit REPO ARGS...``: git for a check, on a snapshot of the agent's repository that holds data and nothing else.

A check (the verifier's uid) must judge the agent's repository without running anything the agent configured:
git runs programs named in a repository's config (``core.fsmonitor``, ``core.hooksPath``, ``filter.*``,
``diff.*.textconv``, aliases, ``include.path`` of files that set them), in its hooks (``post-index-change`` runs
on a mere ``status``), in the config of every submodule or nested repository it recurses into, and it reports
what the agent's caches, flags and redirections say (assume-unchanged and skip-worktree bits, the untracked
cache, ``shallow``, grafts, replace refs, alternates, the commit-graph, ``core.worktree``, ``.git`` files that
point elsewhere). So vgit copies, as data, into a folder of the verifier's own:

* from ``REPO/.git`` (a real directory; a ``.git`` file or link is refused): ``HEAD``, ``packed-refs``,
  ``refs/``, ``logs/``, the in-progress state (``MERGE_HEAD`` and the like, ``rebase-merge/``), loose objects
  and pack files — never ``config``, ``hooks/``, ``info/``, ``modules/``, ``worktrees/``, ``shallow``, nor any
  cache beside the objects (``objects/info/``: alternates and commit-graph; multi-pack index, bitmaps);
* the index rebuilt from its entries alone (mode, object, stage, path): no flags, no extensions;
* the work tree: regular files (content and executable bit), links as links (never followed), folders, but no
  ``.git`` anywhere below the top, so no nested repository or submodule is ever entered.

Then it runs ``/usr/bin/git`` on that copy with its own settings passed as command-line configuration (above any
file git could read) and a clean environment, from the copy's folder that mirrors the check's working directory.
One snapshot per repository per check run (in ``$SELFGYM_VGIT_DIR``), so all of a check's questions see one state.
Reading never follows a link the agent planted: ``REPO`` is resolved following only links owned by root (the
image's, such as ``/logs``), every file is opened with ``O_NOFOLLOW`` and must be a regular file.

This module is standard-library Python that the check's prelude runs with ``python3 -I -c``
(:mod:`selfgym.sandbox.checks`); the host's tests import it to test the snapshot directly.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile

GIT = "/usr/bin/git"
MAX_BYTES = 256 << 20  # of the whole snapshot: a repository past it is not judged
MAX_ENTRIES = 100_000
MAX_DEPTH = 64
MAX_LINK_HOPS = 40
# Settings above any configuration file: nothing runs, nothing is read beside the snapshot, caches are not trusted.
SAFE_CONFIG = (
    ("core.fsmonitor", "false"), ("core.hooksPath", "/dev/null"), ("core.untrackedCache", "false"),
    ("core.commitGraph", "false"), ("core.multiPackIndex", "false"), ("core.splitIndex", "false"),
    ("core.sparseCheckout", "false"), ("index.sparse", "false"), ("core.attributesFile", "/dev/null"),
    ("core.excludesFile", "/dev/null"), ("core.pager", "cat"), ("core.editor", "false"),
    ("core.sshCommand", "false"), ("core.fileMode", "true"), ("core.symlinks", "true"), ("core.ignoreCase", "false"),
    ("core.bare", "false"), ("submodule.recurse", "false"), ("diff.ignoreSubmodules", "all"),
    ("status.submoduleSummary", "false"), ("protocol.allow", "never"),
    ("gc.auto", "0"), ("maintenance.auto", "false"), ("log.showSignature", "false"), ("gpg.program", "false"),
    ("log.mailmap", "false"), ("mailmap.file", "/dev/null"), ("feature.manyFiles", "false"),
    ("init.templateDir", ""),
)
_HEX = re.compile(r"[0-9a-f]{2}")
_LOOSE = re.compile(r"[0-9a-f]{38}(?:[0-9a-f]{24})?")
_PACK = re.compile(r"pack-[0-9a-f]{40}(?:[0-9a-f]{24})?\.(?:pack|idx)")
_STATE_FILES = re.compile(r"(?:[A-Z_]+_HEAD|MERGE_MSG|MERGE_MODE|MERGE_RR|SQUASH_MSG|BISECT_[A-Z_]+)")
_STATE_DIRS = ("refs", "logs", "rebase-merge", "rebase-apply", "sequencer")
_OBJECT_FORMAT = re.compile(r"^\s*objectformat\s*=\s*(sha1|sha256)\s*$", re.IGNORECASE | re.MULTILINE)


class Refused(Exception):
    """The repository cannot be judged as it is (the message says why); vgit exits 128 as git does."""


# --- reading the agent's files without following its links -----------------------------------------------------

def open_dir(path: str) -> tuple[int, str]:
    """An fd of the folder ``path`` (absolute) and its real path, following only links owned by root."""
    todo = [part for part in path.split("/") if part]
    real: list[str] = []
    fd = os.open("/", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    hops = 0
    try:
        while todo:
            name = todo.pop(0)
            if name == ".":
                continue
            if name == "..":
                real = real[:-1]
                os.close(fd)
                fd = _reopen(real)
                continue
            info = os.stat(name, dir_fd=fd, follow_symlinks=False)
            if stat.S_ISLNK(info.st_mode):
                if info.st_uid != 0:
                    raise Refused(f"{'/' + '/'.join(real + [name])} is a link that is not the image's; a check does "
                                  "not follow it")
                hops += 1
                if hops > MAX_LINK_HOPS:
                    raise Refused(f"too many links in {path}")
                target = os.readlink(name, dir_fd=fd)
                if target.startswith("/"):
                    real = []
                    os.close(fd)
                    fd = os.open("/", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
                todo = [part for part in target.split("/") if part] + todo
                continue
            if not stat.S_ISDIR(info.st_mode):
                raise Refused(f"{'/' + '/'.join(real + [name])} is not a folder")
            child = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            os.close(fd)
            fd = child
            real.append(name)
    except OSError as exc:
        os.close(fd)
        raise Refused(f"{path}: {exc.strerror}") from None
    except Refused:
        os.close(fd)
        raise
    return fd, "/" + "/".join(real)


def _reopen(real: list[str]) -> int:
    fd = os.open("/", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    for name in real:  # the real path's parts are folders (links were resolved on the way down)
        child = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
        os.close(fd)
        fd = child
    return fd


class Copier:
    """Copies from the agent's folders into the snapshot: regular files and folders only (links where asked),
    bounded in bytes and entries."""

    def __init__(self) -> None:
        self.bytes = 0
        self.entries = 0

    def _count(self, size: int) -> None:
        self.bytes += size
        self.entries += 1
        if self.bytes > MAX_BYTES or self.entries > MAX_ENTRIES:
            raise Refused(f"the repository is too large to judge (over {MAX_BYTES >> 20} MiB or {MAX_ENTRIES} "
                          "files)")

    def file(self, dir_fd: int, name: str, dest: str, *, keep_exec: bool = False) -> None:
        """Copy the regular file ``name`` of ``dir_fd`` to ``dest``; anything else is refused."""
        try:
            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
        except OSError as exc:
            raise Refused(f"{name}: {exc.strerror}") from None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise Refused(f"{name} is not a regular file")
            self._count(info.st_size)
            mode = 0o755 if keep_exec and info.st_mode & stat.S_IXUSR else 0o644
            left = info.st_size + 1  # a file that grows while it is read (a process of the agent's) is refused
            with open(dest, "xb") as out:
                while chunk := os.read(fd, min(left, 1 << 20)):
                    left -= len(chunk)
                    if left <= 0:
                        raise Refused(f"{name} grew while it was read")
                    out.write(chunk)
            os.chmod(dest, mode)
        finally:
            os.close(fd)

    def tree(self, dir_fd: int, dest: str, *, accept=None, links: bool = False, skip_git: bool = False,
             depth: int = 0) -> None:
        """Copy the folder ``dir_fd`` into ``dest`` (made): ``accept(relative name, is_dir)`` filters entries;
        ``links`` keeps links as links (else they are left out); ``skip_git`` leaves out every ``.git``."""
        if depth > MAX_DEPTH:
            raise Refused("folders nested too deep")
        os.makedirs(dest, mode=0o755, exist_ok=True)
        with os.scandir(dir_fd) as entries:
            names = sorted(entry.name for entry in entries)
        for name in names:
            if skip_git and name == ".git":
                continue
            try:
                info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                continue
            target = os.path.join(dest, name)
            if stat.S_ISDIR(info.st_mode):
                if accept is not None and not accept(name, True):
                    continue
                try:
                    child = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
                except OSError as exc:
                    raise Refused(f"{name}: {exc.strerror}") from None
                try:
                    self._count(0)
                    self.tree(child, target, accept=None if accept is None else _under(accept, name), links=links,
                              skip_git=skip_git, depth=depth + 1)
                finally:
                    os.close(child)
            elif stat.S_ISREG(info.st_mode):
                if accept is None or accept(name, False):
                    self.file(dir_fd, name, target, keep_exec=True)
            elif stat.S_ISLNK(info.st_mode) and links:
                self._count(0)
                os.symlink(os.readlink(name, dir_fd=dir_fd), target)
            # fifos, sockets, devices: git ignores them too


def _under(accept, folder: str):
    return lambda name, is_dir: accept(f"{folder}/{name}", is_dir)


# --- the snapshot ----------------------------------------------------------------------------------------------

def _git_dir_entry(name: str, is_dir: bool) -> bool:
    """Which paths of the agent's ``.git`` the snapshot takes (relative to it)."""
    parts = name.split("/")
    top = parts[0]
    if len(parts) == 1:
        if is_dir:
            return top in _STATE_DIRS or top == "objects"
        return top in ("HEAD", "packed-refs") or bool(_STATE_FILES.fullmatch(top))
    if top in _STATE_DIRS:
        return True
    if top == "objects":
        if len(parts) == 2:
            return is_dir and (bool(_HEX.fullmatch(parts[1])) or parts[1] == "pack")
        if len(parts) == 3 and not is_dir:
            return bool(_LOOSE.fullmatch(parts[2])) if parts[1] != "pack" else bool(_PACK.fullmatch(parts[2]))
    return False


def snapshot(repo_fd: int, dest: str) -> None:
    """Make a judged copy of the repository open at ``repo_fd`` in ``dest`` (a new folder): ``dest/tree`` is the
    work tree and ``dest/tree/.git`` its git folder, as the module docstring says."""
    copier = Copier()
    try:
        git_fd = os.open(".git", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=repo_fd)
    except OSError as exc:
        kind = ("a .git file or link (pointing elsewhere)" if exc.errno in (errno.ENOTDIR, errno.ELOOP)
                else "no .git folder")
        raise Refused(f"not a repository vgit judges: it has {kind}") from None
    tree = os.path.join(dest, "tree")
    git_dir = os.path.join(tree, ".git")
    agent = os.path.join(dest, "agent")
    try:
        os.makedirs(agent)
        for name in ("index", "config"):
            try:
                copier.file(git_fd, name, os.path.join(agent, name))
            except Refused:
                if _exists(git_fd, name):
                    raise
        object_format = _object_format(os.path.join(agent, "config"))
        _git(["init", "-q", "--template=", f"--object-format={object_format}", tree], cwd=dest)
        os.unlink(os.path.join(git_dir, "HEAD"))  # the agent's takes its place
        copier.tree(git_fd, git_dir, accept=_git_dir_entry)
        for name in os.listdir(git_fd):  # a split index keeps its entries in sharedindex.* beside it
            if name.startswith("sharedindex.") and len(name) <= 80:
                copier.file(git_fd, name, os.path.join(git_dir, name))
        os.makedirs(os.path.join(git_dir, "refs", "heads"), exist_ok=True)
        os.makedirs(os.path.join(git_dir, "refs", "tags"), exist_ok=True)
        if not os.path.isfile(os.path.join(git_dir, "HEAD")):
            raise Refused("the repository has no HEAD file")
    finally:
        os.close(git_fd)
    copier.tree(repo_fd, tree, links=True, skip_git=True)
    _rebuild_index(git_dir, tree, os.path.join(agent, "index"))


def _exists(dir_fd: int, name: str) -> bool:
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def _object_format(config: str) -> str:
    """The object format the agent's repository declares (read as text: the config is never given to git)."""
    try:
        with open(config, encoding="utf-8", errors="replace") as fh:
            match = _OBJECT_FORMAT.search(fh.read(1 << 20))
    except FileNotFoundError:
        return "sha1"
    return match.group(1).lower() if match else "sha1"


def _rebuild_index(git_dir: str, tree: str, agent_index: str) -> None:
    """The index from the agent's entries alone: what is staged, at which stage; no flag, extension or stat data."""
    if not os.path.isfile(agent_index):
        return
    listed = _git(["ls-files", "-s", "-z"], cwd=tree, env={"GIT_INDEX_FILE": agent_index, "GIT_DIR": git_dir,
                                                            "GIT_WORK_TREE": tree})
    _git(["update-index", "-z", "--index-info"], cwd=tree, stdin=listed,
         env={"GIT_DIR": git_dir, "GIT_WORK_TREE": tree})
    os.unlink(agent_index)


def git_env(git_dir: str | None = None, tree: str | None = None) -> dict[str, str]:
    """git's environment: nothing of the check's ``GIT_*``, no system or global config, no replace refs."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("GIT_")}
    env.update({"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_NO_REPLACE_OBJECTS": "1",
                "GIT_ATTR_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0", "GIT_PAGER": "cat", "GIT_EDITOR": "false",
                "GIT_ALLOW_PROTOCOL": "", "GIT_NO_LAZY_FETCH": "1",
                "GIT_CEILING_DIRECTORIES": "/", "PATH": "/usr/bin:/bin", "HOME": "/nonexistent"})
    env.pop("XDG_CONFIG_HOME", None)
    if git_dir is not None:
        env["GIT_DIR"] = git_dir
    if tree is not None:
        env["GIT_WORK_TREE"] = tree
    return env


def git_argv(args: list[str]) -> list[str]:
    argv = [GIT]
    for key, value in SAFE_CONFIG:
        argv += ["-c", f"{key}={value}"]
    return argv + list(args)


def _git(args: list[str], *, cwd: str, env: dict[str, str] | None = None, stdin: bytes | None = None) -> bytes:
    done = subprocess.run(git_argv(args), cwd=cwd, input=stdin, capture_output=True,
                          env={**git_env(), **(env or {})}, timeout=120)
    if done.returncode != 0:
        raise Refused(f"git {args[0]} failed on the repository: {done.stderr.decode(errors='replace').strip()[:300]}")
    return done.stdout


# --- the command ---------------------------------------------------------------------------------------------------

def working_dir() -> str:
    """The check's working directory as it named it (``$PWD``: ``cd web`` through a link stays visible)."""
    logical = os.environ.get("PWD", "")
    try:
        if logical.startswith("/") and os.path.samestat(os.stat(logical), os.stat(".")):
            return logical
    except OSError:
        pass
    return os.getcwd()


def prepared(repo: str, cache: str) -> tuple[str, str]:
    """(the snapshot's work tree, the folder in it that mirrors ``repo``) for ``repo``, a folder in a repository
    (its top or below, as ``git -C``), named from the check's working directory."""
    start_fd, start = open_dir(os.path.normpath(os.path.join(working_dir(), repo)))
    os.close(start_fd)
    top = start
    while not _has_git(top):
        if top == "/":
            raise Refused("not in a git repository")
        top = os.path.dirname(top)
    repo_fd, real = open_dir(top)
    try:
        key = hashlib.sha256(real.encode()).hexdigest()[:24]
        dest = os.path.join(cache, key)
        if not os.path.isdir(dest):
            building = tempfile.mkdtemp(prefix=f".{key}-", dir=cache)
            try:
                snapshot(repo_fd, building)
                os.rename(building, dest)
            except OSError:
                if not os.path.isdir(dest):  # not a concurrent vgit of the same repository that won the rename
                    raise
            finally:
                shutil.rmtree(building, ignore_errors=True)
    finally:
        os.close(repo_fd)
    tree = os.path.join(dest, "tree")
    where = os.path.join(tree, os.path.relpath(start, real))
    if not os.path.isdir(where) or os.path.islink(where):
        raise Refused(f"{repo} changed while it was read")
    return tree, where


def _has_git(folder: str) -> bool:
    """Whether ``folder`` (a real path) holds an entry named ``.git``, of whatever kind (lstat: never followed)."""
    try:
        os.lstat(os.path.join(folder, ".git"))
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise Refused(f"{folder}: {exc.strerror}") from None
    return True


def main(argv: list[str]) -> int:
    if len(argv) < 1:
        sys.stderr.write("usage: vgit REPO GIT-ARGS...\n")
        return 2
    cache = os.environ.get("SELFGYM_VGIT_DIR", "")
    if not cache or not os.path.isdir(cache):
        sys.stderr.write("vgit: $SELFGYM_VGIT_DIR is not a folder (vgit runs in a check's prelude)\n")
        return 2
    try:
        tree, where = prepared(argv[0], cache)
    except Refused as exc:
        sys.stderr.write(f"vgit: {argv[0]}: {exc}\n")
        return 128
    sys.stdout.flush()
    os.chdir(where)
    os.execve(GIT, git_argv(argv[1:]), git_env(os.path.join(tree, ".git"), tree))
    return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
