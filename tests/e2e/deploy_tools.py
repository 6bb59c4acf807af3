"""The deploy files checked by their own tools, on copies made runnable in a temporary
directory: ``nginx -t`` (a prefix, a pid file and a self-signed certificate of the
test's own), ``caddy validate``, ``systemd-analyze verify`` and ``security`` (the
unit's paths pointed at this checkout's venv and temporary directories).

A missing tool skips its test, saying which package installs it, unless
``PORTPASS_REQUIRE_DEPLOY_TOOLS=1`` (set by ``.ci/run``), when it fails instead.
"""

from __future__ import annotations

import datetime
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
REQUIRE_ENV = "PORTPASS_REQUIRE_DEPLOY_TOOLS"
#: Where Debian puts nginx and systemd-analyze, when PATH (a non-root shell) lacks sbin.
_SEARCH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin", "/usr/bin"])


def tool(name: str, package: str) -> str:
    """The tool's path, or a skip (a failure under ``PORTPASS_REQUIRE_DEPLOY_TOOLS=1``)."""
    path = shutil.which(name, path=_SEARCH)
    if path:
        return path
    reason = f"{name} is not installed (apt-get install {package})"
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason}; {REQUIRE_ENV}=1: the deploy files must be checked here")
    pytest.skip(reason)


@dataclass(frozen=True)
class Result:
    code: int
    output: str


def run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> Result:
    done = subprocess.run(  # noqa: S603 - our own tools on our own files
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    return Result(done.returncode, done.stdout + done.stderr)


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A throw-away certificate and key for pp.example.tw (nginx -t loads both)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pp.example.tw")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "fullchain.pem", directory / "privkey.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def nginx_test(nginx: str, directory: Path) -> Result:
    """``nginx -t`` on deploy/nginx.conf, included at ``http{}`` level as it says, in a
    main config of the test's own (pid, logs and temporary paths under ``directory``)."""
    cert, key = self_signed_certificate(directory)
    snippet = (DEPLOY / "nginx.conf").read_text()
    snippet = snippet.replace("/etc/ssl/pp.example.tw/fullchain.pem", str(cert))
    snippet = snippet.replace("/etc/ssl/pp.example.tw/privkey.pem", str(key))
    snippet = snippet.replace("/var/log/nginx/portpass.log", str(directory / "access.log"))
    (directory / "portpass.conf").write_text(snippet)
    temp = directory / "temp"
    temp.mkdir()
    main = f"""
pid {directory}/nginx.pid;
error_log {directory}/error.log;
events {{}}
http {{
    access_log off;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {directory}/portpass.conf;
}}
"""
    (directory / "nginx.conf").write_text(main)
    return run([nginx, "-t", "-p", str(directory), "-c", str(directory / "nginx.conf")], directory)


def caddy_validate(caddy: str, directory: Path) -> Result:
    """``caddy validate`` on deploy/Caddyfile, with Caddy's home in ``directory``."""
    home = {"HOME": str(directory), "XDG_DATA_HOME": str(directory / "data")}
    env = {"PATH": os.environ.get("PATH", "")} | home | {"XDG_CONFIG_HOME": str(directory)}
    argv = [caddy, "validate", "--config", str(DEPLOY / "Caddyfile"), "--adapter", "caddyfile"]
    return run(argv, directory, env)


def unit_copy(directory: Path) -> Path:
    """deploy/portpass.service with its paths pointed at this checkout's venv (whose
    ``portpass`` exists and runs) and at temporary state and configuration directories."""
    unit = (DEPLOY / "portpass.service").read_text()
    state, etc = directory / "state", directory / "etc"
    state.mkdir()
    etc.mkdir()
    (etc / "env").write_text("")
    venv_bin = Path(sys.executable).parent
    unit = unit.replace("/opt/portpass/bin/", f"{venv_bin}/")
    unit = unit.replace("/var/lib/portpass", str(state)).replace("/etc/portpass", str(etc))
    path = directory / "portpass.service"
    path.write_text(unit)
    return path


_EXPOSURE = re.compile(r"Overall exposure level for \S+: ([0-9.]+)")


def exposure(output: str) -> float:
    """The figure of ``systemd-analyze security``'s last line."""
    match = _EXPOSURE.search(output)
    assert match, output
    return float(match.group(1))
