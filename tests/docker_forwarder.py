"""Test-only ways to reach this machine's Docker engine as if it were another machine's.

The engine listens only on its unix socket. :class:`EngineForwarder` listens on 127.0.0.1 (never anything
else) and relays each connection to that socket, plain or behind TLS that checks the client's certificate
(:func:`make_certificates` writes a CA, a server certificate for 127.0.0.1 and a client certificate, in the
layout ``DOCKER_CERT_PATH`` expects). :func:`fake_ssh` writes an ``ssh`` executable that relays its stdin and
stdout to the socket, as ``ssh HOST docker system dial-stdio`` does on the far side.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import stat
import sys
import threading
from pathlib import Path

ENGINE_SOCKET = "/var/run/docker.sock"


class EngineForwarder:
    """Relays connections to 127.0.0.1:``port`` to the engine's unix socket; ``connections`` counts them.
    With ``tls`` (a folder from :func:`make_certificates`), a client must present a certificate of that CA."""

    def __init__(self, tls: Path | None = None) -> None:
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._context = None
        if tls is not None:
            self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(tls / "ca.pem"))
            self._context.load_cert_chain(tls / "server-cert.pem", tls / "server-key.pem")
            self._context.verify_mode = ssl.CERT_REQUIRED
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def address(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        if self._context is not None:
            try:
                client = self._context.wrap_socket(client, server_side=True)
            except (ssl.SSLError, OSError):  # no certificate, or not ours: refused
                client.close()
                return
        self.connections += 1
        engine = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        engine.connect(ENGINE_SOCKET)
        done = threading.Event()

        def pump(source: socket.socket, sink: socket.socket) -> None:
            try:
                while data := source.recv(1 << 16):
                    sink.sendall(data)
            except OSError:
                pass
            done.set()

        threading.Thread(target=pump, args=(engine, client), daemon=True).start()
        pump(client, engine)
        done.wait(1)
        for end in (client, engine):
            try:
                end.close()
            except OSError:
                pass

    def close(self) -> None:
        self._closed = True
        self._listener.close()


def make_certificates(folder: Path) -> Path:
    """A CA, a server certificate for 127.0.0.1 and a client certificate (``ca.pem``, ``cert.pem``,
    ``key.pem`` as the Docker client reads them; ``server-*.pem`` for the forwarder). Returns ``folder``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)

    def certificate(name: str, key, issuer_name, issuer_key, *, ca: bool = False, usage=None,
                    ip: bool = False):
        # what strict verification (Python 3.13's default) asks of a chain: key usages and key identifiers
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        usages = x509.KeyUsage(digital_signature=not ca, key_cert_sign=ca, crl_sign=ca,
                               content_commitment=False, key_encipherment=False, data_encipherment=False,
                               key_agreement=False, encipher_only=False, decipher_only=False)
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
                   .add_extension(usages, critical=True)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                                  critical=False))
        if usage is not None:
            builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        if ip:
            names = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    def write(path: str, data: bytes) -> None:
        (folder / path).write_bytes(data)

    def key_bytes(key) -> bytes:
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "selfgym test CA")])
    ca = certificate("selfgym test CA", ca_key, ca_name, ca_key, ca=True)
    server_key, client_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    server = certificate("127.0.0.1", server_key, ca_name, ca_key, usage=ExtendedKeyUsageOID.SERVER_AUTH,
                         ip=True)
    client = certificate("selfgym client", client_key, ca_name, ca_key,
                         usage=ExtendedKeyUsageOID.CLIENT_AUTH)
    write("ca.pem", ca.public_bytes(serialization.Encoding.PEM))
    write("server-cert.pem", server.public_bytes(serialization.Encoding.PEM))
    write("server-key.pem", key_bytes(server_key))
    write("cert.pem", client.public_bytes(serialization.Encoding.PEM))
    write("key.pem", key_bytes(client_key))
    return folder


def fake_ssh(folder: Path) -> Path:
    """An ``ssh`` executable in ``folder`` (put it first on PATH) that ignores its arguments and relays stdin
    and stdout to the engine's socket, as ``docker system dial-stdio`` does at the other end of a real ssh."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "ssh"
    script.write_text(f"""#!{sys.executable}
import os, socket, sys, threading
engine = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
engine.connect({ENGINE_SOCKET!r})
def down():
    while data := engine.recv(65536):
        os.write(1, data)
    os._exit(0)
threading.Thread(target=down, daemon=True).start()
while data := os.read(0, 65536):
    engine.sendall(data)
engine.shutdown(socket.SHUT_WR)
threading.Event().wait(5)
""")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return folder
