"""The docker-compose cluster, for real: build the images, bring the cluster
up (with ZeroMQ CURVE, keys made by the keygen service), run the TICKIT
example into its PostgreSQL warehouse and check the table against DuckDB;
check that containers without the cluster's key cannot join; kill an
executor mid-job; scale executors up and down; and check that `down -v`
leaves nothing behind.

Needs a Docker engine and the Compose tool (`docker compose` or
`docker-compose`); skipped with the reason when either is missing.
scripts/test.sh runs it after the other suites:

    .venv/bin/python -m pytest -q -s tests/cluster

The tests run in file order and share one cluster (compose project
$MILLRACE_COMPOSE_PROJECT, default millrace_test, on a free loopback port,
with an API token), so they never touch a developer's own cluster. Images
that cannot be pulled are built locally by docker/build-base-image.sh and
docker/build-postgres-image.sh (slow the first time, then cached).
"""
import decimal
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import duckdb
import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
PROJECT = os.environ.get("MILLRACE_COMPOSE_PROJECT", "millrace_test")
DAG = ROOT / "dags" / "tickit_postgres.yaml"
BASE_IMAGE = "debian:bookworm-slim"
PG_IMAGE = os.environ.get("MILLRACE_POSTGRES_IMAGE", "postgres:15")
# The kill test's input: the small sales file this many times over, so the
# job runs long enough (several splits, seconds) to lose an executor in it.
BIG_REPEAT = int(os.environ.get("MILLRACE_CLUSTER_BIG_REPEAT", "150"))

SALES_COLUMNS = {
    "salesid": "INTEGER", "listid": "INTEGER", "sellerid": "INTEGER", "buyerid": "INTEGER",
    "eventid": "INTEGER", "dateid": "INTEGER", "qtysold": "INTEGER",
    "pricepaid": "DECIMAL(8,2)", "commission": "DECIMAL(8,2)", "saletime": "TIMESTAMP",
}


def say(msg):
    print(f"cluster test: {msg}", flush=True)


def _run(args, timeout=120, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kw)


def _docker_reason():
    """None when a Docker engine and a Compose tool are usable, else why not."""
    if not shutil.which("docker"):
        return "no docker command"
    try:
        if _run(["docker", "info"], timeout=30).returncode != 0:
            return "`docker info` fails: no Docker engine reachable"
    except subprocess.TimeoutExpired:
        return "`docker info` timed out"
    if _compose_cmd() is None:
        return "neither `docker compose` nor `docker-compose` is installed"
    return None


def _compose_cmd():
    if _run(["docker", "compose", "version"], timeout=30).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


_why_not = _docker_reason()
pytestmark = pytest.mark.skipif(_why_not is not None, reason=f"cluster test skipped: {_why_not}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def expected_buyers(sales_file):
    """The job computed by DuckDB: {buyerid: (tickets, spent, purchases)}."""
    con = duckdb.connect()
    rows = con.execute(
        "SELECT buyerid, sum(qtysold), sum(pricepaid), count(*) "
        "FROM read_csv(?, delim='|', header=false, columns=?) "
        "WHERE pricepaid > 0 AND qtysold > 0 GROUP BY buyerid",
        [str(sales_file), SALES_COLUMNS]).fetchall()
    con.close()
    return {r[0]: (int(r[1]), decimal.Decimal(r[2]), int(r[3])) for r in rows}


class Cluster:
    """One compose project: the compose command with its environment, and
    the REST API on the published port."""

    def __init__(self, data_dir):
        self.workdir = Path(data_dir)
        self.compose = _compose_cmd()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = uuid.uuid4().hex
        self.env = dict(os.environ)
        self.env.update({
            "COMPOSE_PROJECT_NAME": PROJECT,
            "MILLRACE_HTTP_PORT": str(self.port),
            "MILLRACE_DATA_DIR": str(data_dir),
            "MILLRACE_DAGS_DIR": str(ROOT / "dags"),
            "MILLRACE_EXECUTORS": "3",
            "MILLRACE_TOKEN": self.token,
            "MILLRACE_POSTGRES_IMAGE": PG_IMAGE,
        })

    def run(self, *args, check=True, timeout=300):
        r = _run([*self.compose, "-f", str(ROOT / "docker-compose.yml"), *args], timeout=timeout,
                 env=self.env, cwd=ROOT)
        if check and r.returncode != 0:
            raise AssertionError(f"compose {' '.join(args)} failed ({r.returncode}):\n"
                                 f"{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
        return r

    def containers(self, service=None):
        """Ids of the project's containers (of one service), running or not."""
        args = ["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={PROJECT}"]
        if service:
            args += ["--filter", f"label=com.docker.compose.service={service}"]
        return _run(args).stdout.split()

    def inspect(self, cid, fmt):
        return _run(["docker", "inspect", "-f", fmt, cid]).stdout.strip()

    def headers(self):
        return {"Authorization": f"Bearer {self.token}"}

    def get(self, path):
        r = requests.get(self.url + path, headers=self.headers(), timeout=30)
        r.raise_for_status()
        return r.json()

    def submit(self, params=None):
        body = {"dag": DAG.read_text(), "params": params or {}}
        r = requests.post(self.url + "/v1/jobs", json=body, headers=self.headers(), timeout=30)
        assert r.status_code == 201, r.text
        return r.json()["id"]

    def wait_job(self, job_id, timeout=180):
        end = time.time() + timeout
        while time.time() < end:
            j = self.get(f"/v1/jobs/{job_id}")
            if j["state"] not in ("queued", "running"):
                return j
            time.sleep(0.1)
        raise AssertionError(f"job {job_id} did not finish in {timeout}s: {json.dumps(j)}")

    def alive(self):
        return [e for e in self.get("/v1/executors")["executors"] if e["state"] == "alive"]

    def wait_alive(self, n, timeout=60):
        end = time.time() + timeout
        got = []
        while time.time() < end:
            try:
                got = self.alive()
                if len(got) == n:
                    return got
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise AssertionError(f"wanted {n} alive executors, have {len(got)}: {got}")

    def wait_healthy(self, timeout=180):
        """Every container of the project running and healthy (the one-shot
        keygen container: exited with status 0)."""
        end = time.time() + timeout
        states = {}
        keygen = set(self.containers("keygen"))
        while time.time() < end:
            states = {c: self.inspect(c, "{{.Name}} {{.State.Status}} "
                                         "{{if .State.Health}}{{.State.Health.Status}}{{end}}"
                                         "{{.State.ExitCode}}")
                      for c in self.containers()}
            daemons = [s for c, s in states.items() if c not in keygen]
            done = [s for c, s in states.items() if c in keygen]
            if daemons and all(s.split()[1:] == ["running", "healthy0"] for s in daemons) and \
                    all(s.split()[1:] == ["exited", "0"] for s in done):
                return
            time.sleep(0.5)
        raise AssertionError(f"cluster not healthy after {timeout}s: {sorted(states.values())}")

    def psql(self, sql):
        r = self.run("exec", "-T", "postgres", "psql", "-U", "millrace", "-d", "warehouse",
                     "-v", "ON_ERROR_STOP=1", "-At", "-F", "|", "-c", sql)
        return [line.split("|") for line in r.stdout.splitlines() if line]

    def warehouse_buyers(self):
        rows = self.psql("SELECT buyerid, tickets, spent, purchases FROM buyer_tickets")
        return {int(b): (int(t), decimal.Decimal(s), int(p)) for b, t, s, p in rows}

    def logs(self):
        return self.run("logs", "--no-color", "--tail", "40", check=False, timeout=60).stdout

    def down(self):
        return self.run("down", "-v", "--remove-orphans", "--timeout", "10", check=False,
                        timeout=180)


def ensure_image(name, script):
    """The image exists, pulled when the registry is reachable, else built by
    `script`. Returns a note of what was done."""
    if _run(["docker", "image", "inspect", name]).returncode == 0:
        return f"{name}: present"
    t = time.time()
    if _run(["docker", "pull", "-q", name], timeout=600).returncode == 0:
        return f"{name}: pulled in {time.time() - t:.0f}s"
    r = _run(["bash", str(ROOT / "docker" / script)], timeout=1800)
    assert r.returncode == 0, f"{script} failed:\n{r.stdout}\n{r.stderr}"
    return f"{name}: no registry, built by docker/{script} in {time.time() - t:.0f}s"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """TICKIT at scale 0.1 in data_dir/tickit and, for the long jobs, its sales
    file BIG_REPEAT times over in data_dir/big. Readable by the containers'
    user (uid 10001)."""
    d = tmp_path_factory.mktemp("cluster_data")
    subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_tickit.py"), "--scale", "0.1",
                    "--out", str(d / "tickit")], check=True, capture_output=True)
    small = (d / "tickit" / "sales_pipe.txt").read_bytes()
    (d / "big").mkdir()
    with open(d / "big" / "sales_pipe.txt", "wb") as f:
        for _ in range(BIG_REPEAT):
            f.write(small)
    for p in [d, *d.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    return d


@pytest.fixture(scope="module")
def expected(data_dir):
    return {"small": expected_buyers(data_dir / "tickit" / "sales_pipe.txt"),
            "big": expected_buyers(data_dir / "big" / "sales_pipe.txt")}


@pytest.fixture(scope="module")
def cluster(request, data_dir):
    c = Cluster(data_dir)
    c.down()  # whatever an interrupted earlier run left
    t0 = time.time()
    say(ensure_image(BASE_IMAGE, "build-base-image.sh"))
    say(ensure_image(PG_IMAGE, "build-postgres-image.sh"))
    t = time.time()
    # docker-compose (v1) drives the legacy builder, which keeps a failed
    # step's container unless told otherwise
    c.run("build", *(["--force-rm"] if c.compose == ["docker-compose"] else []), timeout=1800)
    say(f"millrace image built in {time.time() - t:.0f}s")
    t = time.time()
    c.run("up", "-d")
    c.wait_healthy()
    c.wait_alive(3)
    say(f"cluster up and healthy in {time.time() - t:.0f}s (images and up: {time.time() - t0:.0f}s)")
    failed_before = request.session.testsfailed
    yield c
    if request.session.testsfailed > failed_before:
        say("logs of the failed run:\n" + c.logs())
    c.down()


def test_cluster_is_up(cluster):
    assert requests.get(cluster.url + "/healthz", timeout=10).json() == {"status": "ok"}
    # the token from the environment guards everything but /healthz
    assert requests.get(cluster.url + "/v1/jobs", timeout=10).status_code == 401
    alive = cluster.alive()
    assert len(alive) == 3
    # each executor advertises its own container's address, on the shuffle port
    ips = {cluster.inspect(c, "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}")
           for c in cluster.containers("executor")}
    assert {e["address"] for e in alive} == {f"tcp://{ip}:7071" for ip in ips}
    # the REST port is published on loopback only
    binding = cluster.inspect(cluster.containers("coordinator")[0],
                              '{{json (index .NetworkSettings.Ports "8080/tcp")}}')
    assert json.loads(binding)[0]["HostIp"] == "127.0.0.1"


def test_curve_is_on(cluster):
    logs = cluster.run("logs", "--no-color", "coordinator", "keygen", timeout=60).stdout
    assert "curve=on" in logs, logs[-3000:]
    keys = {line.rsplit("key=", 1)[1].strip() for line in logs.splitlines()
            if "registered data=" in line and "key=" in line}
    assert len(keys) == 1, logs[-3000:]  # the cluster shares one pair
    # the warehouse password never reaches an executor: its task specs carry
    # none, and it adds the one of its own environment
    assert "password" not in logs


def _stranger(cluster, name, script):
    """Starts a container from the cluster's image on its network, running
    script (bash), with the cluster's public keys (not its secret) at /pub."""
    image = os.environ.get("MILLRACE_IMAGE", "millrace:latest")
    pub = cluster.workdir / "pub"
    pub.mkdir(exist_ok=True)
    r = cluster.run("exec", "-T", "coordinator", "cat", "/keys/public.key", timeout=60)
    (pub / "public.key").write_text(r.stdout)
    pub.chmod(0o755)
    (pub / "public.key").chmod(0o644)
    net = f"{PROJECT}_default"
    r = _run(["docker", "run", "-d", "--rm", "--name", f"{PROJECT}_{name}", "--network", net,
              "-v", f"{pub}:/pub:ro", "--entrypoint", "bash", image, "-c", script])
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def _plain_refused(logs):
    # libzmq reports a peer without CURVE either as a protocol failure or as
    # a failed handshake, depending on how far its greeting got; both are a
    # refusal (tests/e2e/test_security_cluster.py accepts both too).
    return "does not speak CURVE" in logs or "failed the CURVE handshake" in logs


def test_containers_without_the_key_cannot_join(cluster):
    before = {e["id"] for e in cluster.alive()}
    plain = _stranger(cluster, "plain", "exec millrace-entrypoint executor --id plain-stranger")
    keyed = _stranger(cluster, "keyed",
                      "millrace keygen /tmp/k >/dev/null && mkdir /tmp/k/authorized && "
                      "cp /pub/public.key /tmp/k/authorized/coordinator.key && "
                      "exec millrace-entrypoint executor --id keyed-stranger --curve-keys /tmp/k")
    try:
        end = time.time() + 30
        logs = ""
        while time.time() < end:
            logs = cluster.run("logs", "--no-color", "coordinator", timeout=60).stdout
            if "is not authorized" in logs and _plain_refused(logs):
                break
            time.sleep(1)
        assert "is not authorized" in logs and _plain_refused(logs), logs[-3000:]
        assert {e["id"] for e in cluster.alive()} == before
        ids = {e["id"] for e in cluster.get("/v1/executors")["executors"]}
        assert not ids & {"plain-stranger", "keyed-stranger"}
    finally:
        _run(["docker", "rm", "-f", plain, keyed])
    say("containers without the cluster's key were refused and logged")


def test_tickit_into_postgres_matches_duckdb(cluster, expected):
    t = time.time()
    j = cluster.wait_job(cluster.submit())
    assert j["state"] == "succeeded", j["error"]
    want = expected["small"]
    assert j["outputs"] == [{"node": "load_buyers", "target": "warehouse:buyer_tickets",
                             "rows": len(want)}]
    assert len(want) > 100
    assert cluster.warehouse_buyers() == want
    # post_sql made the view in the same commit
    top = [(int(b), int(n)) for b, n in cluster.psql("SELECT buyerid, tickets FROM top_buyers")]
    best = sorted(want.items(), key=lambda kv: (-kv[1][0], kv[0]))[:10]
    assert top == [(b, v[0]) for b, v in best]
    say(f"TICKIT job ran and checked in {time.time() - t:.1f}s")


def test_executor_killed_mid_job_job_still_succeeds(cluster, expected):
    t = time.time()
    job = cluster.submit({"data": "data/big"})
    # Wait until an executor is running one of the job's tasks, then kill its
    # container outright.
    victim = None
    end = time.time() + 60
    while victim is None and time.time() < end:
        busy = [e for e in cluster.alive() if e["running_tasks"] > 0]
        if busy:
            victim = busy[0]
            break
        j = cluster.get(f"/v1/jobs/{job}")
        assert j["state"] in ("queued", "running"), \
            f"job finished ({j['state']}) before an executor could be killed: " \
            f"raise MILLRACE_CLUSTER_BIG_REPEAT ({BIG_REPEAT})"
        time.sleep(0.02)
    assert victim, "no executor ever ran a task of the job"
    ip = victim["address"].removeprefix("tcp://").rsplit(":", 1)[0]
    cid = next(c for c in cluster.containers("executor")
               if cluster.inspect(c, "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}") == ip)
    subprocess.run(["docker", "kill", cid], check=True, capture_output=True)
    say(f"killed executor {victim['id']} ({ip}) while it ran {victim['running_tasks']} task(s)")

    j = cluster.wait_job(job)
    assert j["state"] == "succeeded", f"job failed after losing an executor: {j['error']}"
    retried = sum(s["tasks"]["retried"] for s in j["stages"])
    assert retried > 0, "the killed executor's tasks were not re-run"
    lost = {e["id"]: e["state"] for e in cluster.get("/v1/executors")["executors"]}
    assert lost.get(victim["id"]) == "lost"
    assert cluster.warehouse_buyers() == expected["big"]
    say(f"job survived the kill ({retried} task(s) re-run) in {time.time() - t:.1f}s")


def test_scale_executors_up_and_down(cluster, expected):
    t = time.time()
    cluster.run("up", "-d", "--scale", "executor=5")
    cluster.wait_healthy()
    cluster.wait_alive(5)
    j = cluster.wait_job(cluster.submit({"data": "data/big"}))
    assert j["state"] == "succeeded", j["error"]
    assert cluster.warehouse_buyers() == expected["big"]

    cluster.run("up", "-d", "--scale", "executor=2")
    assert len(cluster.containers("executor")) == 2
    cluster.wait_alive(2)  # the stopped ones fall silent and are declared lost
    # this time through the CLI inside the coordinator's container
    r = cluster.run("exec", "-T", "coordinator", "millrace", "submit", "dags/tickit_postgres.yaml",
                    "--param", "data=data/tickit", "--wait", check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert cluster.warehouse_buyers() == expected["small"]
    say(f"scaled to 5 and to 2 executors, a job on each, in {time.time() - t:.1f}s")


def test_down_leaves_nothing(cluster):
    r = cluster.down()
    assert r.returncode == 0, r.stderr
    label = f"label=com.docker.compose.project={PROJECT}"
    for kind in ("container", "volume", "network"):
        extra = ["-a"] if kind == "container" else []
        left = _run(["docker", kind, "ls", *extra, "-q", "--filter", label]).stdout.split()
        assert left == [], f"{kind}s left behind: {left}"
    names = _run(["docker", "volume", "ls", "-q"]).stdout.split()
    assert f"{PROJECT}_warehouse" not in names
    nets = _run(["docker", "network", "ls", "--format", "{{.Name}}"]).stdout.split()
    assert f"{PROJECT}_default" not in nets
