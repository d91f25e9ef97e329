"""Proxies and CA certificates from the environment, as cosign users set them (pullguard.engine.registry.netenv),
and the registry client going through a real loopback forward proxy."""

from __future__ import annotations

import asyncio
import http.client
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import certifi
import pytest

from pullguard.engine.registry.client import RegistryClient
from pullguard.engine.registry.credentials import CredentialStore
from pullguard.engine.registry.errors import TransportError
from pullguard.engine.registry.netenv import NetworkSettings, NetworkSettingsError
from tests.support.push import push_image

PROXY = "http://proxy.corp:3128"
SPROXY = "http://sproxy.corp:8080"

# (environment, request URL, proxy used or None)
PROXY_CASES = [
    ({}, "https://ghcr.io/v2/", None),
    ({"HTTPS_PROXY": PROXY}, "https://ghcr.io/v2/", PROXY),
    ({"https_proxy": PROXY}, "https://ghcr.io/v2/", PROXY),
    ({"HTTPS_PROXY": SPROXY, "https_proxy": PROXY}, "https://ghcr.io/v2/", SPROXY),  # upper case first
    ({"HTTPS_PROXY": PROXY}, "http://registry.lan:5000/v2/", None),  # http:// needs HTTP_PROXY
    ({"HTTP_PROXY": PROXY}, "http://registry.lan:5000/v2/", PROXY),
    ({"HTTP_PROXY": "proxy.corp:3128"}, "http://registry.lan/v2/", PROXY),  # no scheme: http://
    ({"HTTPS_PROXY": PROXY, "HTTP_PROXY": SPROXY}, "https://ghcr.io/v2/", PROXY),
    # Loopback is never proxied.
    ({"HTTP_PROXY": PROXY}, "http://127.0.0.1:5000/v2/", None),
    ({"HTTP_PROXY": PROXY}, "http://localhost:5000/v2/", None),
    ({"HTTP_PROXY": PROXY}, "http://[::1]:5000/v2/", None),
    # NO_PROXY: hosts and their subdomains, leading dots, ports, IPs, CIDR, `*`.
    ({"HTTPS_PROXY": PROXY, "NO_PROXY": "ghcr.io"}, "https://ghcr.io/v2/", None),
    ({"HTTPS_PROXY": PROXY, "NO_PROXY": "ghcr.io"}, "https://pkg.ghcr.io/v2/", None),
    ({"HTTPS_PROXY": PROXY, "NO_PROXY": "ghcr.io"}, "https://notghcr.io/v2/", PROXY),
    ({"HTTPS_PROXY": PROXY, "no_proxy": ".corp.example, quay.io"}, "https://r.corp.example/v2/", None),
    ({"HTTPS_PROXY": PROXY, "NO_PROXY": "corp.example"}, "https://corp.example/v2/", None),
    ({"HTTPS_PROXY": PROXY, "NO_PROXY": "registry.lan:5000"}, "https://registry.lan:5000/v2/", None),
    ({"HTTPS_PROXY": PROXY, "NO_PROXY": "registry.lan:5000"}, "https://registry.lan/v2/", PROXY),
    ({"HTTPS_PROXY": PROXY, "NO_PROXY": "10.0.0.0/8"}, "https://10.1.2.3:5000/v2/", None),
    ({"HTTPS_PROXY": PROXY, "NO_PROXY": "10.0.0.0/8"}, "https://192.168.1.2/v2/", PROXY),
    ({"HTTPS_PROXY": PROXY, "NO_PROXY": "192.168.1.2"}, "https://192.168.1.2/v2/", None),
    ({"HTTPS_PROXY": PROXY, "NO_PROXY": "*"}, "https://ghcr.io/v2/", None),
    ({"HTTPS_PROXY": PROXY, "ALL_PROXY": SPROXY}, "https://ghcr.io/v2/", PROXY),  # Go ignores ALL_PROXY
    ({"ALL_PROXY": SPROXY}, "https://ghcr.io/v2/", None),
]


@pytest.mark.parametrize("environ, url, proxy", PROXY_CASES)
def test_proxy_from_environment(environ, url, proxy):
    settings = NetworkSettings.from_environment(environ)
    assert settings.proxy_for(url) == proxy
    client = RegistryClient(credentials=CredentialStore(), network=settings)
    assert client.proxy_for(url) == proxy
    asyncio.run(client.aclose())


@pytest.mark.parametrize(
    "environ, message",
    [
        ({"HTTPS_PROXY": "ftp://proxy:21"}, "HTTPS_PROXY=ftp://proxy:21: not a proxy URL"),
        ({"https_proxy": "http://user:secret@"}, "https_proxy=http://***@: not a proxy URL"),
        ({"SSL_CERT_FILE": "/nonexistent/ca.pem"}, "cannot load CA certificates from SSL_CERT_FILE=/nonexistent/ca.pem: No such file"),
        ({"SSL_CERT_DIR": "/nonexistent/dir", "SSL_CERT_FILE": "/nonexistent/ca.pem"},
         "from SSL_CERT_FILE=/nonexistent/ca.pem and SSL_CERT_DIR=/nonexistent/dir"),
    ],
)
def test_unusable_settings_name_the_variable(environ, message):
    with pytest.raises(NetworkSettingsError) as info:
        RegistryClient(credentials=CredentialStore(), network=NetworkSettings.from_environment(environ))
    assert message in str(info.value)
    assert "secret" not in str(info.value)


def test_ca_settings_and_redacted_repr(tmp_path):
    bundle = tmp_path / "corp-ca.pem"
    bundle.write_bytes(open(certifi.where(), "rb").read())
    settings = NetworkSettings.from_environment({"SSL_CERT_FILE": str(bundle), "SSL_CERT_DIR": str(tmp_path),
                                                 "HTTPS_PROXY": "http://me:hunter2@127.0.0.1:3128"})
    assert (settings.ca_file, settings.ca_dir) == (str(bundle), str(tmp_path))
    assert settings.ssl_context().cert_store_stats()["x509_ca"] > 0
    assert "hunter2" not in repr(settings) and "http://***@127.0.0.1:3128" in repr(settings)
    client = RegistryClient(credentials=CredentialStore(), network=settings)
    assert "hunter2" not in repr(client)
    asyncio.run(client.aclose())


# ---- through a real forward proxy -------------------------------------------------------------


@contextmanager
def forward_proxy(upstream: str):
    """A plain-HTTP forward proxy on loopback that sends every request to `upstream` (host:port),
    whatever host the absolute URL names; records (method, absolute URL, headers)."""
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _relay(self):
            seen.append((self.command, self.path, dict(self.headers)))
            parts = urlsplit(self.path)
            conn = http.client.HTTPConnection(upstream, timeout=10)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "proxy-connection", "connection")}
            conn.request(self.command, parts.path + (f"?{parts.query}" if parts.query else ""), headers=headers)
            answer = conn.getresponse()
            body = answer.read()
            self.send_response(answer.status)
            for k, v in answer.getheaders():
                if k.lower() not in ("connection", "transfer-encoding", "content-length"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(body) if self.command != "HEAD" else answer.getheader("Content-Length", "0")))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            conn.close()

        do_GET = do_HEAD = _relay

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def pushed(registry):
    return push_image(registry.url, "proxied/app", "v1", layers=[b"through the proxy"])


def test_requests_go_through_http_proxy_without_netrc_credentials(registry, pushed, tmp_path, monkeypatch):
    # A name that is not loopback (never resolved: the proxy answers for it), allowed plain HTTP.
    name = "registry.pullguard.test:5000"
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".netrc").write_text("machine registry.pullguard.test login netrc-user password netrc-Pa55\n")
    with forward_proxy(registry.host) as (proxy_url, seen):
        settings = NetworkSettings.from_environment({"HTTP_PROXY": proxy_url})

        async def go():
            async with RegistryClient(credentials=CredentialStore(), insecure=[name], network=settings) as c:
                head = await c.head_manifest(name, "proxied/app", "v1")
                manifest = await c.get_manifest(name, "proxied/app", head.digest)
                return head, manifest

        head, manifest = asyncio.run(go())
    assert head.digest == manifest.digest == pushed
    assert [(m, u) for m, u, _ in seen] == [("HEAD", f"http://{name}/v2/proxied/app/manifests/v1"),
                                            ("GET", f"http://{name}/v2/proxied/app/manifests/{pushed}")]
    assert all("Authorization" not in h for _, _, h in seen)


@pytest.mark.parametrize("no_proxy", ["", "registry.pullguard.test"])
def test_loopback_and_no_proxy_hosts_skip_the_proxy(registry, pushed, no_proxy):
    dead_proxy = "http://127.0.0.1:1"
    settings = NetworkSettings.from_environment({"HTTP_PROXY": dead_proxy, "NO_PROXY": no_proxy})

    async def go(host):
        async with RegistryClient(credentials=CredentialStore(), insecure=["registry.pullguard.test:1"], network=settings) as c:
            return await c.head_manifest(host, "proxied/app", "v1")

    assert asyncio.run(go(registry.host)).digest == pushed  # loopback: straight to the registry
    if not no_proxy:
        with pytest.raises(TransportError, match=r"cannot connect to registry registry\.pullguard\.test:1 through proxy "
                                                 r"http://127\.0\.0\.1:1: connection refused"):
            asyncio.run(go("registry.pullguard.test:1"))
