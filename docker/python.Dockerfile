# The Python sandbox: python3 with numpy, sympy and pytest, plus the command-line tools the shell tasks use.
# Build with `selfgym sandbox build` (tags the image by a hash of this file). BASE_IMAGE defaults to the public
# image a user would pull; offline, selfgym passes a debootstrap-made Debian that already has these packages,
# so every step below is a no-op there and the build needs no network.
# The sandbox user is uid 1000 with home and working directory /work (a tmpfs at run time).
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

RUN set -eux; \
    tools="bash git procps zip unzip xz-utils bzip2 file bc jq"; \
    missing=""; for t in git ps zip unzip xz bzip2 file bc jq; do command -v "$t" >/dev/null || missing=1; done; \
    if [ -n "$missing" ]; then \
        apt-get update; apt-get install -y --no-install-recommends $tools; rm -rf /var/lib/apt/lists/*; \
    fi; \
    if ! python3 -c "import numpy, sympy, pytest" 2>/dev/null; then \
        python3 -m pip install --no-cache-dir numpy sympy pytest; \
    fi; \
    (getent passwd 1000 >/dev/null || useradd --uid 1000 --user-group --no-create-home --home-dir /work sandbox); \
    mkdir -p /work && chown 1000:1000 /work
# Harbor's fixed paths (/tests, /logs/{agent,verifier,artifacts}, /solution) are links into /tmp, where the
# verifier makes its private folders at the start of each episode (selfgym/envs/harbor/layout.py)
RUN mkdir -p /logs && ln -sfn /tmp/.harbor/tests /tests && ln -sfn /tmp/.harbor/solution /solution \
    && for d in agent verifier artifacts; do ln -sfn /tmp/.harbor/$d /logs/$d; done

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HOME=/work LANG=C.UTF-8
WORKDIR /work
USER 1000:1000
CMD ["python3"]
