"""Event deliveries cannot be turned against the host's network (issue #32).

With ``EVENTS_ALLOWED_PRIVATE_HOSTS`` unset (tests/settings.py sets it to the loopback receivers'
host; each test here says what it allows), a receiver whose URL is or resolves to a refused
address is never contacted: no socket connects anywhere, and a listener on loopback records no
connection. A name is resolved once and the connection goes to the address checked; redirects
are not followed; what view-only staff see of a failure is a fixed reason, never the answer.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from tests.factories import ApplicationFactory, UserFactory, issue_session
from token_admin.events import delivery, outbound
from token_admin.events.models import Delivery, Receiver
from token_admin.revocation import Actor, Selection, Surface, revoke

pytestmark = pytest.mark.django_db

SECRET = "planted-secret-7f3a9c"


class Listener:
    """A loopback HTTP server that records every connection and answers ``status`` with
    ``headers`` and ``body``."""

    def __init__(self, status=202, headers=None, body=b"") -> None:
        self.requests: list[dict] = []
        self.connections = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def setup(self):
                owner.connections += 1
                super().setup()

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                owner.requests.append({"path": self.path, "host": self.headers["Host"]})
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def listener():
    server = Listener()
    yield server
    server.stop()


@pytest.fixture
def production(settings):
    """The default: no host allowed to be private."""
    settings.TOKEN_ADMIN = {
        **settings.TOKEN_ADMIN,
        "EVENTS_ALLOWED_PRIVATE_HOSTS": [],
        "EVENTS_TIMEOUT_SECONDS": 2,
    }


@pytest.fixture
def connects(monkeypatch):
    """Every address a socket connects to (or tries to), in order."""
    seen: list = []
    original = socket.socket.connect

    def spy(self, address):
        seen.append(address)
        return original(self, address)

    monkeypatch.setattr(socket.socket, "connect", spy)
    return seen


def resolving(monkeypatch, answers):
    """``socket.getaddrinfo`` answering ``answers[name]`` (a list of address lists, one per
    lookup; the last repeats) for the names given, the real one for the others; returns the
    names looked up."""
    original = socket.getaddrinfo
    lookups: list[str] = []

    def fake(host, port, *args, **kwargs):
        if host not in answers:
            return original(host, port, *args, **kwargs)
        lookups.append(host)
        addresses = answers[host][min(len(lookups) - 1, len(answers[host]) - 1)]
        return [
            (
                socket.AF_INET6 if ":" in address else socket.AF_INET,
                socket.SOCK_STREAM,
                socket.IPPROTO_TCP,
                "",
                (address, port, 0, 0) if ":" in address else (address, port),
            )
            for address in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return lookups


def deliver_to(url: str) -> Delivery:
    """A receiver at ``url`` (saved without the form's check, as an old row would be), one
    revocation, one delivery pass; the row as stored."""
    Receiver.objects.create(name="rs", url=url)
    revoke(
        Selection.users([issue_session(UserFactory(), ApplicationFactory())[0].user]),
        surface=Surface.ADMIN,
        actor=Actor.command("test"),
    )
    delivery.drain()
    return Delivery.objects.get()


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",  # IPv4 loopback
        "127.8.9.10",
        "10.1.2.3",  # private
        "172.16.0.1",
        "192.168.1.1",
        "100.64.0.1",  # shared address space (carrier-grade NAT)
        "169.254.169.254",  # link-local: the cloud metadata service
        "0.0.0.0",  # unspecified
        "224.0.0.1",  # multicast
        "240.0.0.1",  # reserved
        "255.255.255.255",
        "[::1]",  # IPv6 loopback
        "[::]",
        "[fe80::1]",  # link-local
        "[fc00::1]",  # unique local
        "[ff02::1]",  # multicast
        "[::ffff:127.0.0.1]",  # IPv4-mapped loopback
        "[::ffff:10.0.0.1]",
        "[::ffff:169.254.169.254]",
        "[2002:7f00:1::]",  # 6to4 of 127.0.0.1
        "[64:ff9b::a9fe:a9fe]",  # NAT64 of 169.254.169.254
    ],
)
def test_a_refused_address_is_never_contacted(production, listener, connects, host):
    row = deliver_to(f"http://{host}:{listener.port}/events")
    assert (row.status, row.last_error, row.last_status_code, row.attempts) == (
        "pending",
        "refused address",
        None,
        1,
    )
    assert connects == []
    assert listener.connections == 0


def test_a_name_resolving_to_loopback_is_never_contacted(production, listener, connects):
    row = deliver_to(f"http://localhost:{listener.port}/events")
    assert row.last_error == "refused address"
    assert connects == [] and listener.connections == 0


def test_a_name_with_one_refused_address_among_public_ones_is_refused(
    production, listener, connects, monkeypatch
):
    lookups = resolving(monkeypatch, {"rs.example": [["93.184.215.14", "127.0.0.1"]]})
    row = deliver_to(f"http://rs.example:{listener.port}/events")
    assert row.last_error == "refused address"
    assert lookups == ["rs.example"]
    assert connects == [] and listener.connections == 0


def test_a_name_is_resolved_once_and_the_checked_address_is_the_one_connected(
    production, listener, connects, monkeypatch
):
    # DNS rebinding: public when checked, loopback when a second lookup would connect.
    lookups = resolving(monkeypatch, {"rebind.example": [["192.0.2.1"], ["127.0.0.1"]]})
    monkeypatch.setattr(outbound, "refused", lambda address: str(address) == "127.0.0.1")
    row = deliver_to(f"http://rebind.example:{listener.port}/events")
    assert lookups == ["rebind.example"]
    # 192.0.2.1 (TEST-NET-1) is unreachable here: the attempt fails, and loopback is untouched.
    assert connects == [("192.0.2.1", listener.port)]
    assert listener.connections == 0
    assert row.last_error in ("connection failed", "timed out")


def test_an_allowed_name_is_reached_at_its_checked_address_with_its_own_host_header(
    settings, listener, connects, monkeypatch
):
    settings.TOKEN_ADMIN = {**settings.TOKEN_ADMIN, "EVENTS_ALLOWED_PRIVATE_HOSTS": ["rs.internal"]}
    lookups = resolving(monkeypatch, {"rs.internal": [["127.0.0.1"]]})
    row = deliver_to(f"http://rs.internal:{listener.port}/events?stream=1")
    assert (row.status, row.last_status_code, row.last_error) == ("delivered", 202, "")
    assert lookups == ["rs.internal"]
    assert connects == [("127.0.0.1", listener.port)]
    assert listener.requests == [{"path": "/events?stream=1", "host": f"rs.internal:{listener.port}"}]


def test_the_allowed_hosts_allow_only_themselves(settings, listener, connects):
    # tests/settings.py allows 127.0.0.1: "localhost", the same address by another name, is refused.
    assert settings.TOKEN_ADMIN["EVENTS_ALLOWED_PRIVATE_HOSTS"] == ["127.0.0.1"]
    row = deliver_to(f"http://localhost:{listener.port}/events")
    assert row.last_error == "refused address"
    assert connects == [] and listener.connections == 0


def test_a_redirect_is_not_followed(settings, connects):
    target = Listener()
    redirecting = Listener(status=302, headers={"Location": f"http://127.0.0.1:{target.port}/steal"})
    try:
        settings.TOKEN_ADMIN = {**settings.TOKEN_ADMIN, "EVENTS_ALLOWED_PRIVATE_HOSTS": ["127.0.0.1"]}
        row = deliver_to(f"http://127.0.0.1:{redirecting.port}/events")
        assert (row.status, row.last_status_code, row.last_error) == ("pending", 302, "redirect refused")
        assert len(redirecting.requests) == 1
        assert target.connections == 0
        assert connects == [("127.0.0.1", redirecting.port)]
    finally:
        target.stop()
        redirecting.stop()


def test_a_receiver_that_answers_a_byte_at_a_time_is_cut_off(settings):
    settings.TOKEN_ADMIN = {**settings.TOKEN_ADMIN, "EVENTS_TIMEOUT_SECONDS": 0.5}
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    stop = threading.Event()

    def drip():
        connection, _ = server.accept()
        with connection:
            connection.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            # Each byte within the socket timeout; for 5 s, so a client with no cut-off fails, not hangs.
            deadline = time.monotonic() + 5
            while not stop.is_set() and time.monotonic() < deadline:
                try:
                    connection.sendall(b"a")
                except OSError:
                    return
                time.sleep(0.05)

    threading.Thread(target=drip, daemon=True).start()
    try:
        started = time.monotonic()
        row = deliver_to(f"http://127.0.0.1:{server.getsockname()[1]}/events")
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        server.close()
    assert row.last_error == "timed out"
    assert elapsed < 2.0  # 0.5 s and the revocation's own work, not until the receiver stops


@pytest.fixture
def viewer(client):
    user = UserFactory(username="viewer", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_receiver", "view_delivery"], content_type__app_label="token_admin"
        )
    )
    client.force_login(user)
    return client


def test_view_only_staff_never_see_a_receivers_answer(settings, viewer):
    settings.TOKEN_ADMIN = {**settings.TOKEN_ADMIN, "EVENTS_ALLOWED_PRIVATE_HOSTS": ["127.0.0.1"]}
    internal = Listener(status=500, body=f"Traceback ... REDIS_PASSWORD={SECRET}".encode())
    try:
        row = deliver_to(f"http://127.0.0.1:{internal.port}/")
    finally:
        internal.stop()
    assert len(internal.requests) == 1  # it did answer, with the secret
    assert (row.status, row.last_status_code, row.last_error) == ("pending", 500, "HTTP 500")
    changelist = viewer.get(reverse("admin:token_admin_delivery_changelist"))
    page = viewer.get(reverse("admin:token_admin_delivery_change", args=[row.pk]))
    for response in (changelist, page):
        assert response.status_code == 200
        content = response.content.decode()
        assert "HTTP 500" in content
        assert SECRET not in content and "Traceback" not in content


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "93.184.215.14", "2606:4700:4700::1111", "2a00:1450:4001:80b::200e", "::ffff:8.8.8.8"],
)
def test_public_addresses_are_not_refused(address):
    assert not outbound.refused(ipaddress.ip_address(address))


# --- at save time -------------------------------------------------------------------------------


def receiver_form(admin_client, url):
    return admin_client.post(
        reverse("admin:token_admin_receiver_add"),
        {"name": "rs", "format": "webhook", "url": url, "algorithm": "ES256", "active": "on"},
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:6379/",
        "http://10.0.0.7/hooks",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:8000/",
        "http://[fe80::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://localhost:8000/hooks",
        "http://api.localhost/hooks",
    ],
)
def test_the_admin_refuses_a_receiver_at_a_refused_address(admin_client, production, url):
    response = receiver_form(admin_client, url)
    assert response.status_code == 200
    assert "deliveries refuse it" in response.content.decode()
    assert not Receiver.objects.exists()


def test_the_admin_refuses_a_scheme_other_than_http(admin_client):
    response = receiver_form(admin_client, "ftp://rs.example/hooks")
    assert response.status_code == 200
    assert "use an https:// URL" in response.content.decode()
    assert not Receiver.objects.exists()


def test_the_admin_saves_a_public_name_and_an_allowed_private_host(admin_client, settings):
    settings.TOKEN_ADMIN = {**settings.TOKEN_ADMIN, "EVENTS_ALLOWED_PRIVATE_HOSTS": ["127.0.0.1"]}
    assert receiver_form(admin_client, "https://rs.example/hooks").status_code == 302
    assert receiver_form(admin_client, "http://127.0.0.1:9000/hooks").status_code == 302
    assert sorted(Receiver.objects.values_list("url", flat=True)) == [
        "http://127.0.0.1:9000/hooks",
        "https://rs.example/hooks",
    ]


# --- what older versions stored -----------------------------------------------------------------


def test_the_migration_rewrites_stored_answers_to_fixed_reasons():
    from importlib import import_module

    from django.apps import apps

    migration = import_module("token_admin.migrations.0014_delivery_fixed_reasons")
    Receiver.objects.create(name="rs", url="https://rs.example/hooks")
    for _ in range(8):
        revoke(
            Selection.users([issue_session(UserFactory(), ApplicationFactory())[0].user]),
            surface=Surface.ADMIN,
            actor=Actor.command("test"),
        )
    stored = [
        (500, f"DeliveryError: HTTP 500: Traceback ... REDIS_PASSWORD={SECRET}"),
        (None, "ConnectionError: HTTPConnectionPool(host='10.0.0.7', port=6379): refused"),
        (None, "ReadTimeout: HTTPConnectionPool(host='rs.example', port=443): Read timed out."),
        (None, "SSLError: certificate verify failed"),
        (None, "Deadline passed."),
        (None, f"ChunkedEncodingError: {SECRET}"),
        (503, "HTTP 503"),
        (None, ""),
    ]
    rows = list(Delivery.objects.order_by("pk"))
    for row, (code, error) in zip(rows, stored, strict=True):
        Delivery.objects.filter(pk=row.pk).update(last_status_code=code, last_error=error)
    migration.fixed_reasons(apps, None)
    assert list(Delivery.objects.order_by("pk").values_list("last_status_code", "last_error")) == [
        (500, "HTTP 500"),
        (None, "connection failed"),
        (None, "timed out"),
        (None, "TLS error"),
        (None, "deadline passed"),
        (None, "bad response"),
        (503, "HTTP 503"),
        (None, ""),
    ]


# --- TLS: the name, not the address -------------------------------------------------------------


def certificate(tmp_path, name):
    """A self-signed certificate for ``name`` and its key, as PEM files."""
    from datetime import datetime, timedelta, timezone

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / f"{name}.pem", tmp_path / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return str(cert_file), str(key_file)


@pytest.mark.parametrize(("served", "delivered"), [("rs.internal", True), ("other.internal", False)])
def test_https_checks_the_certificate_against_the_name_and_sends_it_as_sni(
    settings, monkeypatch, tmp_path, served, delivered
):
    import ssl

    settings.TOKEN_ADMIN = {**settings.TOKEN_ADMIN, "EVENTS_ALLOWED_PRIVATE_HOSTS": ["rs.internal"]}
    cert_file, key_file = certificate(tmp_path, served)
    listener = Listener()
    names: list[str] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    context.sni_callback = lambda sock, name, ctx: names.append(name)
    listener.server.socket = context.wrap_socket(listener.server.socket, server_side=True)
    # The client trusts the served certificate as a CA (nothing else): only its name can fail.
    trusting = ssl.create_default_context

    def trust(*args, **kwargs):
        client = trusting(*args, **kwargs)
        client.load_verify_locations(cert_file)
        return client

    monkeypatch.setattr(outbound.ssl, "create_default_context", trust)
    resolving(monkeypatch, {"rs.internal": [["127.0.0.1"]]})
    try:
        row = deliver_to(f"https://rs.internal:{listener.port}/events")
    finally:
        listener.stop()
    assert names == ["rs.internal"]
    if delivered:
        assert (row.status, row.last_error) == ("delivered", "")
        assert listener.requests == [{"path": "/events", "host": f"rs.internal:{listener.port}"}]
    else:
        assert (row.status, row.last_error) == ("pending", "TLS error")
        assert listener.requests == []
