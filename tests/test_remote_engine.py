"""Sandboxes on another Docker engine: pools reach any engine the Docker SDK can (tcp:// plain on loopback,
tcp:// with verified TLS, ssh://), and an engine on the network without verified TLS is refused before any
byte is sent. The "other engine" is this machine's, reached through test-only relays on 127.0.0.1
(:mod:`docker_forwarder`)."""

from __future__ import annotations

import socket

import pytest
from docker_forwarder import EngineForwarder, fake_ssh, make_certificates

from selfgym.sandbox import DockerInsecureError, SandboxPool, docker_client
from selfgym.sandbox.engine import check_transport, engine_environment

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    return make_certificates(tmp_path_factory.mktemp("certs"))


def run_in_pool(client, image: str) -> str:
    with SandboxPool(image, size=1, client=client) as pool, pool.acquire() as sandbox:
        sandbox.write_files({"main.py": "print(6 * 7)"})
        return sandbox.run("python3 main.py").stdout


def test_plain_tcp_on_loopback(sandbox_image):
    forwarder = EngineForwarder()
    try:
        client = docker_client(host=forwarder.address, fresh=True)
        assert run_in_pool(client, sandbox_image) == "42\n"
        assert forwarder.connections >= 2  # the API calls and the sandbox's attached stream went through it
    finally:
        forwarder.close()


def test_tcp_with_verified_tls(sandbox_image, certificates):
    forwarder = EngineForwarder(tls=certificates)
    try:
        client = docker_client(host=forwarder.address, cert_path=str(certificates), fresh=True)
        assert run_in_pool(client, sandbox_image) == "42\n"
        assert forwarder.connections >= 2
    finally:
        forwarder.close()


def test_ssh_through_the_system_ssh_client(sandbox_image, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", f"{fake_ssh(tmp_path / 'bin')}:{__import__('os').environ['PATH']}")
    client = docker_client(host="ssh://tester@127.0.0.1", fresh=True)
    assert run_in_pool(client, sandbox_image) == "42\n"


def test_an_engine_on_the_network_without_verified_tls_is_refused_before_connecting(monkeypatch, tmp_path):
    def no_connection(*args, **kwargs):
        raise AssertionError("a connection was attempted")

    monkeypatch.setattr(socket, "create_connection", no_connection)
    monkeypatch.setattr(socket.socket, "connect", no_connection)
    monkeypatch.delenv("SELFGYM_DOCKER_INSECURE", raising=False)
    for address in ("tcp://192.0.2.10:2375", "http://docker:2375", "tcp://[2001:db8::1]:2375"):
        with pytest.raises(DockerInsecureError, match="without verified TLS"):
            docker_client(host=address, fresh=True)
    # DOCKER_HOST is held to the same rule, and TLS without verifying the engine does not pass either
    monkeypatch.setenv("DOCKER_HOST", "tcp://192.0.2.10:2376")
    monkeypatch.setenv("DOCKER_CERT_PATH", str(tmp_path))
    monkeypatch.delenv("DOCKER_TLS_VERIFY", raising=False)
    with pytest.raises(DockerInsecureError):
        docker_client(fresh=True)
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    check_transport(engine_environment())  # verified TLS: allowed
    check_transport(engine_environment("tcp://192.0.2.10:2376", str(tmp_path)))
    check_transport(engine_environment("tcp://127.0.0.1:2375"))  # loopback: no other machine reaches it
    check_transport(engine_environment("ssh://user@192.0.2.10"))
    check_transport(engine_environment("unix:///run/user/1000/docker.sock"))
    with pytest.raises(DockerInsecureError):  # an engine named explicitly does not borrow DOCKER_HOST's TLS
        check_transport(engine_environment("tcp://192.0.2.11:2376"))
    monkeypatch.setenv("SELFGYM_DOCKER_INSECURE", "1")
    check_transport(engine_environment("tcp://192.0.2.11:2375"))  # the user's explicit choice


@pytest.mark.parametrize("base_url", ["https://127.0.0.1:2376", "http+docker://ssh"])
def test_web_envs_say_plainly_that_their_browser_tunnel_needs_a_plain_socket(base_url):
    from types import SimpleNamespace

    from selfgym.envs.web.tunnel import ExecTunnel
    from selfgym.sandbox import SandboxError

    with pytest.raises(SandboxError, match=r"ssh -NL /tmp/engine.sock:/var/run/docker.sock"):
        ExecTunnel(SimpleNamespace(base_url=base_url), "container", 9222)
