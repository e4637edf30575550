"""Reaching a Temporal that wants TLS, mTLS or an API key (Temporal Cloud, a secured cluster) with the
variables Temporal's own CLI and SDKs read. The dev server speaks plaintext only, so a TLS-terminating
proxy with certificates made here by `openssl` stands in front of it; a whole investigation runs
through it."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client

from sleuth.config import Settings
from sleuth.worker import connect
from tests.harness import harness

pytestmark = pytest.mark.skipif(
    shutil.which("openssl") is None, reason="needs the openssl command to make certificates"
)


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA, a server certificate for localhost signed by it, and a client certificate signed by it."""
    d = tmp_path_factory.mktemp("pki")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=sleuth-test-ca",
             "-keyout", "ca.key", "-out", "ca.pem", cwd=d)  # fmt: skip
    # Extensions make X.509 v3 certificates: the SDK's TLS stack (rustls) rejects v1.
    (d / "server.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    (d / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for name in ("server", "client"):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout", f"{name}.key",
                 "-out", f"{name}.csr", cwd=d)  # fmt: skip
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                 "-days", "2", "-out", f"{name}.pem", "-extfile", f"{name}.ext", cwd=d)  # fmt: skip
    return d


@contextlib.asynccontextmanager
async def tls_proxy(target: str, pki: Path, *, require_client_cert: bool) -> AsyncIterator[str]:
    """Terminate TLS (HTTP/2 by ALPN, as gRPC needs) on 127.0.0.1 and pipe the bytes to `target`."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(pki / "server.pem", pki / "server.key")
    ctx.set_alpn_protocols(["h2"])
    if require_client_cert:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(pki / "ca.pem")
    host, port = target.rsplit(":", 1)
    pipes: set[asyncio.Task[None]] = set()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(host, int(port))
        for p in (pipe(reader, up_writer), pipe(up_reader, writer)):
            task = asyncio.create_task(p)
            pipes.add(task)
            task.add_done_callback(pipes.discard)

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=ctx)
    try:
        yield f"localhost:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        for task in list(pipes):
            task.cancel()
        await asyncio.gather(*pipes, return_exceptions=True)


def _target(client: Client) -> str:
    return client.service_client.config.target_host


async def test_server_tls_with_a_private_ca(temporal_client: Client, pki: Path) -> None:
    async with tls_proxy(_target(temporal_client), pki, require_client_cert=False) as address:
        settings = Settings(TEMPORAL_ADDRESS=address, TEMPORAL_TLS_SERVER_CA_CERT_PATH=str(pki / "ca.pem"))
        assert settings.temporal_access.tls, "a CA file turns TLS on"
        client = await connect(address, "default", settings.temporal_access)
        info = await client.workflow_service.get_system_info(GetSystemInfoRequest())
        assert info.server_version
        # The same proxy refuses plaintext gRPC, so the call above really went over TLS.
        with pytest.raises(RuntimeError):
            await asyncio.wait_for(connect(address, "default"), 20)


async def test_a_whole_investigation_over_mutual_tls(temporal_client: Client, pki: Path) -> None:
    async with tls_proxy(_target(temporal_client), pki, require_client_cert=True) as address:
        base = {"TEMPORAL_ADDRESS": address, "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(pki / "ca.pem")}
        # Without a client certificate the handshake is refused.
        with pytest.raises(RuntimeError):
            await asyncio.wait_for(connect(address, "default", Settings(**base).temporal_access), 20)
        settings = Settings(
            **base,
            TEMPORAL_TLS_CLIENT_CERT_PATH=str(pki / "client.pem"),
            TEMPORAL_TLS_CLIENT_KEY_PATH=str(pki / "client.key"),
        )
        client = await connect(address, "default", settings.temporal_access)
        async with harness(client, "logistics-cpu", approval_timeout=1) as h:
            wid = await h.fire()
            report = await asyncio.wait_for(h.handle(wid).result(), 120)
        assert report.verdict in ("root_cause_found", "inconclusive")
        assert report.hypotheses, "the investigation ran its tests through the mTLS connection"


async def test_an_api_key_is_sent_and_turns_tls_on(pki: Path) -> None:
    settings = Settings(TEMPORAL_ADDRESS="ns.acct.tmprl.cloud:7233", TEMPORAL_API_KEY="key-123")
    assert settings.temporal_access.tls and settings.temporal_access.api_key == "key-123"
    plain = Settings(TEMPORAL_ADDRESS="temporal:7233", TEMPORAL_API_KEY="key-123", TEMPORAL_TLS="false")
    assert not plain.temporal_access.tls, "TEMPORAL_TLS=false overrides, as in Temporal's SDKs"
    assert not Settings(TEMPORAL_ADDRESS="temporal:7233").temporal_access.tls


def test_half_a_client_certificate_is_a_clear_error() -> None:
    with pytest.raises(
        ValueError, match="TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH go together"
    ):
        Settings(TEMPORAL_TLS_CLIENT_CERT_PATH="/tmp/client.pem")


async def test_an_unreadable_certificate_names_its_variable(tmp_path: Path) -> None:
    settings = Settings(
        TEMPORAL_ADDRESS="127.0.0.1:1", TEMPORAL_TLS_SERVER_CA_CERT_PATH=str(tmp_path / "missing.pem")
    )
    with pytest.raises(ValueError, match=r"TEMPORAL_TLS_SERVER_CA_CERT_PATH: cannot read .*missing\.pem"):
        await connect("127.0.0.1:1", "default", settings.temporal_access)


def test_bad_configuration_says_what_is_wrong_without_echoing_credentials(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from sleuth.cli import main

    monkeypatch.setenv("DD_API_KEY", "dd-secret-api-key")
    monkeypatch.setenv("TEMPORAL_API_KEY", "temporal-secret-key")
    monkeypatch.setenv("TEMPORAL_TLS_CLIENT_CERT_PATH", "/etc/sleuth/client.pem")
    assert main(["worker"]) == 2
    err = capsys.readouterr().err
    assert "TEMPORAL_TLS_CLIENT_KEY_PATH go together" in err
    assert "secret" not in err, err
    assert "Traceback" not in err
