# The web sandbox of selfgym/Web-v0: headless Chromium and the self-hosted sites' runtime (Python 3 + Flask), in
# one container that has no network interface but loopback. The sites' code and seed data are not baked in: they
# ship with the selfgym package and are copied into the container's tmpfs when it starts (no host mount), so this
# image changes only when its packages do. Build with `build_image(docker_client(), "web")`; BASE_IMAGE defaults
# to the public image a user would pull; offline, selfgym passes a debootstrap-made Debian that already has these
# packages (selfgym.sandbox.images.OFFLINE_BASES["web"]), so every step below is a no-op there.
# The sandbox user is uid 1000 with home and working directory /work (a tmpfs at run time).
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

RUN set -eux; \
    missing=""; for t in chromium socat ps; do command -v "$t" >/dev/null || missing=1; done; \
    if [ -n "$missing" ]; then \
        apt-get update; \
        apt-get install -y --no-install-recommends chromium socat procps fonts-dejavu-core; \
        rm -rf /var/lib/apt/lists/*; \
    fi; \
    if ! python3 -c "import flask" 2>/dev/null; then \
        python3 -m pip install --no-cache-dir flask; \
    fi; \
    (getent passwd 1000 >/dev/null || useradd --uid 1000 --user-group --no-create-home --home-dir /work sandbox); \
    mkdir -p /work && chown 1000:1000 /work

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 HOME=/work LANG=C.UTF-8
WORKDIR /work
USER 1000:1000
CMD ["python3"]
