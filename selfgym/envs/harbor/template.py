"""The Dockerfile of a task whose environment is selfgym's sandbox plus a setup script.

A task declaring ``[metadata.selfgym] environment = "sandbox"`` must have exactly this Dockerfile: it is what the
declaration means, so Harbor builds the same environment selfgym plays (the public image that
``docker/python.Dockerfile`` starts from, with the same tools, and ``environment/setup.sh`` run in ``/work``).
Tasks whose setup starts processes run it when the container starts, since processes do not survive a build step.
"""

from __future__ import annotations

SETUP_FILE = "setup.sh"
READY_MARKER = "/tmp/.selfgym-setup-done"
# After a setup that starts processes: until each has become what it runs (`nohup cmd &` is briefly "nohup").
SETTLE = "for i in $(seq 100); do pgrep -x nohup > /dev/null || break; sleep 0.05; done"

_HEAD = """\
# selfgym's sandbox: the public image docker/python.Dockerfile starts from, with the same tools (Python packages
# at the versions of selfgym's offline Debian image), and setup.sh run in /work. task.toml declares [metadata.selfgym] environment = "sandbox", so selfgym runs this task in its
# own pooled sandbox (running setup.sh there) instead of building this file, and checks that this file is
# unchanged. To change the environment, edit this file and remove that declaration: selfgym then builds it.
FROM python:3.11-slim
RUN apt-get update \\
    && apt-get install -y --no-install-recommends git procps zip unzip xz-utils bzip2 file bc jq \\
    && rm -rf /var/lib/apt/lists/* \\
    && pip install --no-cache-dir numpy==1.24.2 sympy==1.11.1 pytest==7.2.1
ENV HOME=/work LANG=C.UTF-8 PYTHONDONTWRITEBYTECODE=1
WORKDIR /work
COPY setup.sh /opt/selfgym/setup.sh
"""

_AT_BUILD = "RUN bash -e /opt/selfgym/setup.sh\n"

_AT_START = f"""\
# setup.sh starts processes, so it runs when the container starts (Harbor keeps the image's entrypoint);
# the healthcheck in task.toml waits for it
ENTRYPOINT ["/bin/bash", "-c", "bash -e /opt/selfgym/setup.sh && {{ {SETTLE}; touch {READY_MARKER}; }} && exec \\"$@\\"", \
    "start"]
"""


def sandbox_dockerfile(*, setup_at_start: bool) -> str:
    """The Dockerfile text a ``sandbox`` task must have (``setup_at_start`` for tasks that keep processes)."""
    return _HEAD + (_AT_START if setup_at_start else _AT_BUILD)


def sandbox_setup_command(*, setup_at_start: bool) -> str:
    """What selfgym runs in its sandbox for the template, in ``/work``: setup.sh (passed in ``$SELFGYM_SETUP``)
    with errexit, as the Dockerfile does, then the marker the healthcheck waits for."""
    command = 'bash -e -c "$SELFGYM_SETUP" setup.sh'
    return f"{command} && {{ {SETTLE}; touch {READY_MARKER}; }}" if setup_at_start else command
