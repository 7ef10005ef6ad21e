"""Snapshots of an episode's files (``Sandbox.snapshot`` / ``restore``): taken and put back as root, so both are
attacked as such: links the agent planted, archives that point outside the scratch directories, set-id bits."""

from __future__ import annotations

import json

import pytest

from selfgym.sandbox import SandboxError

pytestmark = pytest.mark.docker

LISTING = "cd / && find work tmp dev/shm -mindepth 1 -printf '%p %y %m %U %G %l\\n' | sort; cat work/d/e/f.txt"


def test_a_snapshot_restores_files_links_modes_and_owners_in_a_fresh_episode(sandbox):
    sandbox.run("mkdir -p d/e && echo hello > d/e/f.txt && chmod 640 d/e/f.txt && ln -s d/e/f.txt link && "
                "mkdir locked && chmod 000 locked && echo x > /tmp/t && echo y > /dev/shm/s && chmod 1777 d")
    sandbox.run("echo verdict > /tmp/verifier-owned", user="verifier")
    before = sandbox.run(LISTING).stdout
    snapshot = sandbox.snapshot()
    sandbox.reset()
    assert sandbox.run("ls -A /work /tmp").stdout.split() == ["/tmp:", "/work:"]  # a fresh episode...
    sandbox.restore(snapshot)
    assert sandbox.run(LISTING).stdout == before  # ...now holding exactly the files of the old one
    assert "1001 1001" in [line for line in before.splitlines() if "verifier-owned" in line][0]


def test_a_planted_link_is_kept_as_a_link_never_read_through(sandbox):
    sandbox.run("ln -s /etc/shadow shadow && ln -s /proc/1/environ environ && ln -s /work loop")
    snapshot = sandbox.snapshot()
    assert b"root:" not in snapshot and b"PATH=" not in snapshot
    sandbox.reset()
    sandbox.restore(snapshot)
    result = sandbox.run("readlink shadow environ loop; cat shadow")
    assert result.stdout.split() == ["/etc/shadow", "/proc/1/environ", "/work"]
    assert "Permission denied" in result.stderr


def archive(*entries: tuple[dict, bytes]) -> bytes:
    return b"".join(json.dumps(header).encode() + b"\n" + data for header, data in entries)


@pytest.mark.parametrize("path", ["/etc/evil", "/work/../etc/evil", "/dev/evil", "/proc/evil", "/work", "/"])
def test_an_archive_cannot_write_outside_the_scratch_directories(sandbox, path):
    blob = archive(({"path": path, "type": "file", "mode": 0o644, "uid": 1000, "gid": 1000, "size": 4}, b"evil"))
    with pytest.raises(SandboxError):
        sandbox.restore(blob)
    assert sandbox.run("ls /dev/evil /etc/evil 2>&1; ls -A /work").stdout.count("No such file") == 2


def test_a_link_in_an_archive_cannot_redirect_a_later_entry(sandbox):
    blob = archive(({"path": "/work/a", "type": "link", "target": "/dev", "mode": 0o777, "uid": 1000, "gid": 1000}, b""),
                   ({"path": "/work/a/evil", "type": "file", "mode": 0o644, "uid": 1000, "gid": 1000, "size": 4},
                    b"evil"))
    with pytest.raises(SandboxError, match="Not a directory|Too many levels|ELOOP|symbolic"):
        sandbox.restore(blob)
    assert "No such file" in sandbox.run("ls /dev/evil 2>&1").stdout


def test_set_id_bits_go_and_foreign_owners_become_the_agents(sandbox):
    blob = archive(({"path": "/work/tool", "type": "file", "mode": 0o6755, "uid": 0, "gid": 0, "size": 2}, b"#!"))
    sandbox.restore(blob)
    assert sandbox.run("stat -c '%a %u %g' tool").stdout.split() == ["755", "1000", "1000"]
