"""The CLI's HTTP client: what it says when no coordinator answers, that it
speaks TLS to an https:// URL, and the headers it sends (bearer token, no
form content type on a POST without a body)."""
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from conftest import free_port, run_cli


def test_no_coordinator_says_what_to_do():
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    r = run_cli("jobs", "--coordinator", url, timeout=60)
    assert r.returncode == 1, r
    assert f"no coordinator answers at {url}/v1/jobs" in r.stderr, r.stderr
    assert "Connection refused" in r.stderr, r.stderr
    assert "--coordinator or MILLRACE_COORDINATOR" in r.stderr, r.stderr


def test_other_schemes_are_refused():
    r = run_cli("jobs", "--coordinator", "ftp://127.0.0.1:21", timeout=60)
    assert r.returncode == 1, r
    assert "bad coordinator URL 'ftp://127.0.0.1:21/v1/jobs'" in r.stderr, r.stderr


def test_https_url_speaks_tls():
    """An https:// URL opens a TLS handshake; a server that answers in plain
    HTTP makes a TLS error, not a 'bad URL'."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    srv.settimeout(30)
    port = srv.getsockname()[1]
    first = {}

    def serve():
        try:
            conn, _ = srv.accept()
            with conn:
                conn.settimeout(10)
                first["bytes"] = conn.recv(5)
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        except OSError:
            pass

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        r = run_cli("jobs", "--coordinator", f"https://127.0.0.1:{port}", timeout=60)
    finally:
        t.join(15)
        srv.close()
    assert r.returncode == 1, r
    assert f"cannot reach the coordinator at https://127.0.0.1:{port}/v1/jobs" in r.stderr, r.stderr
    # A TLS record of type handshake (22), version 3.x: a ClientHello.
    assert first.get("bytes", b"")[:2] == b"\x16\x03", first


class Recorder(BaseHTTPRequestHandler):
    """Answers every request with a small JSON job and keeps what it got."""
    seen = []

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n) if n else b""
        Recorder.seen.append((self.command, self.path, dict(self.headers.items()), body))
        out = json.dumps({"id": "abc", "state": "running"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


def test_cancel_sends_token_and_no_form_type():
    """Straight to the URL (no proxy from the environment), with the token."""
    Recorder.seen = []
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        url = f"http://127.0.0.1:{srv.server_address[1]}"
        r = run_cli("cancel", "abc", "--coordinator", url, env={"MILLRACE_TOKEN": "s3cret", "http_proxy": "http://127.0.0.1:9"},
                    timeout=60)
    finally:
        srv.shutdown()
        srv.server_close()
    assert r.returncode == 0, r.stderr
    assert "cancelling abc (it was running)" in r.stdout
    assert len(Recorder.seen) == 1
    method, path, headers, body = Recorder.seen[0]
    assert (method, path, body) == ("POST", "/v1/jobs/abc/cancel", b"")
    h = {k.lower(): v for k, v in headers.items()}
    assert h.get("authorization") == "Bearer s3cret"
    assert h.get("accept") == "application/json"
    # No body, so no type: never the form type a browser could also send.
    assert "content-type" not in h, h
