"""A real S3-compatible server for the tests: moto's server (PyPI
moto[server]) on loopback with request authentication turned on.

moto checks every request's SigV4 signature once its first
INITIAL_NO_AUTH_ACTION_COUNT actions are done: those three create an IAM
user, its access key and a policy allowing everything, and from then on a
request signed with any other secret gets 403 SignatureDoesNotMatch (test_s3
proves it with boto3 and with millrace). moto was chosen over s3s-fs because
it installs from PyPI in seconds (no Rust build) and verifies signatures with
botocore's own canonicalisation.

FaultProxy sits between a client and the server: it forwards requests
unchanged (the Host header too, so signatures still match) and can answer
chosen requests itself with 503 SlowDown or 500, and records what it saw
(method, path, Range header)."""
import http.client
import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
from conftest import free_port

ALLOW_ALL = ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*",'
             '"Resource":"*"}]}')


class S3Server:
    def __init__(self, workdir):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT="3")
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            env.pop(k, None)
        self.log = open(os.path.join(workdir, "moto.log"), "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1",
                                      "-p", str(self.port)], env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        try:
            end = time.time() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                    break
                except OSError:
                    if time.time() > end or self.proc.poll() is not None:
                        raise RuntimeError("moto server did not start")
                    time.sleep(0.1)
            iam = boto3.client("iam", endpoint_url=self.endpoint, region_name="us-east-1",
                               aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
            iam.create_user(UserName="millrace")
            k = iam.create_access_key(UserName="millrace")["AccessKey"]
            iam.put_user_policy(UserName="millrace", PolicyName="all", PolicyDocument=ALLOW_ALL)
            self.key_id, self.secret = k["AccessKeyId"], k["SecretAccessKey"]
        except BaseException:
            self.stop()
            raise

    def client(self, service="s3", secret=None, key_id=None):
        return boto3.client(service, endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=key_id or self.key_id,
                            aws_secret_access_key=secret or self.secret)

    def user(self, name, policy):
        """Another IAM user with the given policy: (key id, secret)."""
        iam = self.client("iam")
        iam.create_user(UserName=name)
        k = iam.create_access_key(UserName=name)["AccessKey"]
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy)
        return k["AccessKeyId"], k["SecretAccessKey"]

    def session(self, name):
        """Temporary credentials of an assumed role (moto checks the
        session token): (key id, secret, token)."""
        iam = self.client("iam")
        role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=(
            '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},'
            '"Action":"sts:AssumeRole"}]}'))["Role"]
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=ALLOW_ALL)
        c = self.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="millrace")
        c = c["Credentials"]
        return c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class FaultProxy:
    """fail(method, path, headers) -> None to forward, or (status, code)
    to answer with an S3 error instead."""

    def __init__(self, upstream_port, fail=None):
        self.upstream_port = upstream_port
        self.fail = fail or (lambda m, p, h: None)
        self.seen = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _any(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                with proxy.lock:
                    proxy.seen.append((self.command, self.path, self.headers.get("Range")))
                    verdict = proxy.fail(self.command, self.path, self.headers)
                if verdict:
                    status, code = verdict
                    out = (f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code>"
                           f"<Message>injected</Message></Error>").encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)
                    return
                c = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=60)
                c.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for k, v in self.headers.items():
                    c.putheader(k, v)
                c.endheaders(body or None)
                r = c.getresponse()
                data = r.read()
                self.send_response(r.status)
                for k, v in r.getheaders():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                c.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
