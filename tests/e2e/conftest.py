"""Shared fixtures for millrace's end-to-end tests.

They run the real programs from the build folder named by $MILLRACE_BUILD
(default: build/ at the repository's top), as separate processes on
loopback, and check results against an independent engine (DuckDB) over the
same files.
"""
import json
import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("MILLRACE_BUILD", ROOT / "build"))


def binary(name):
    p = BUILD / name
    if not p.exists():
        pytest.fail(f"{p} is missing: build first (scripts/test.sh does)")
    return str(p)


def run_cli(*args, timeout=300, env=None, cwd=None):
    """Runs the millrace CLI; returns the CompletedProcess (text)."""
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([binary("millrace"), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=e, cwd=cwd)


@pytest.fixture(scope="session")
def tickit_data(tmp_path_factory):
    """A small TICKIT data set made by the project's generator."""
    out = tmp_path_factory.mktemp("tickit")
    subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_tickit.py"), "--scale", "0.05",
                    "--out", str(out)], check=True, capture_output=True)
    return out


def free_port():
    """A port free now, chosen below the kernel's ephemeral range
    (net.ipv4.ip_local_port_range, 32768 and up by default) so that an
    outgoing connection of another test cannot take it before the server
    binds it; the Cluster still retries if one does."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(10000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PortTaken(RuntimeError):
    """Another process took a port between free_port() and the bind."""


class Cluster:
    """A coordinator and executors started by hand, as an operator would."""

    def __init__(self, workdir, executors=2, token=None, extra=(), executor_args=()):
        """extra: more coordinator arguments; executor_args: more arguments
        for every executor (e.g. ("--memory", "262144"))."""
        self.workdir = Path(workdir)
        self.executor_args = list(executor_args)
        for attempt in range(3):
            try:
                self._start(executors, token, extra)
                return
            except PortTaken:
                if attempt == 2:
                    raise

    def _start(self, executors, token, extra):
        self.procs = []
        self.http_port = free_port()
        self.ctl_port = free_port()
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.token = token
        args = [binary("millrace-coordinator"), "--http", f"127.0.0.1:{self.http_port}",
                "--bind", f"tcp://127.0.0.1:{self.ctl_port}", "--data-root", str(self.workdir),
                *extra]
        env = dict(os.environ)
        if token:
            env["MILLRACE_TOKEN"] = token
        self.coord_log = open(self.workdir / "coordinator.log", "w")
        self.executors = []
        try:
            self.coordinator = subprocess.Popen(args, stdout=self.coord_log,
                                                stderr=subprocess.STDOUT, env=env)
            self.procs.append(self.coordinator)
            self.wait_healthy()
            for i in range(executors):
                self.add_executor()
            self.wait_executors(executors)
        except BaseException:
            self.stop()  # leave no process behind when start-up fails
            raise

    def add_executor(self):
        i = len(self.executors)
        log = open(self.workdir / f"executor-{i}.log", "w")
        p = subprocess.Popen([binary("millrace-executor"), "--coordinator",
                              f"tcp://127.0.0.1:{self.ctl_port}", "--data-root", str(self.workdir),
                              "--id", f"e2e-{i}-{os.getpid()}", *self.executor_args],
                             stdout=log, stderr=subprocess.STDOUT)
        self.executors.append(p)
        self.procs.append(p)
        return p

    def headers(self):
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    def get(self, path, **kw):
        return requests.get(self.url + path, headers=self.headers(), timeout=30, **kw)

    def post(self, path, **kw):
        h = self.headers()
        h.update(kw.pop("headers", {}))
        return requests.post(self.url + path, headers=h, timeout=30, **kw)

    def wait_healthy(self, timeout=15):
        end = time.time() + timeout
        while time.time() < end:
            if self.coordinator.poll() is not None:
                log = (self.workdir / "coordinator.log").read_text()
                if "address in use" in log or "Address already in use" in log:
                    raise PortTaken(log)
                raise RuntimeError("coordinator exited: " + log)
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise RuntimeError("coordinator did not become healthy")

    def wait_executors(self, n, timeout=15):
        end = time.time() + timeout
        while time.time() < end:
            ex = self.get("/v1/executors").json()["executors"]
            if sum(e["state"] == "alive" for e in ex) >= n:
                return
            time.sleep(0.05)
        raise RuntimeError(f"{n} executors did not register")

    def wait_job(self, job_id, timeout=120):
        end = time.time() + timeout
        while time.time() < end:
            j = self.get(f"/v1/jobs/{job_id}").json()
            if j["state"] not in ("queued", "running"):
                return j
            time.sleep(0.05)
        raise RuntimeError(f"job {job_id} did not finish: {json.dumps(j)}")

    def stop(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.coord_log.close()

    def returncodes(self):
        return [p.returncode for p in self.procs]


@pytest.fixture
def cluster_factory(tmp_path):
    made = []

    def make(**kw):
        c = Cluster(tmp_path, **kw)
        made.append(c)
        return c

    yield make
    for c in made:
        c.stop()
