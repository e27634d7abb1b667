"""Cluster security: who may join, whose word counts, what a peer may leave
behind, and what a task spec gives away (docs/security.md).

A rogue process (pyzmq) tries to register with a CURVE cluster, to forge
the status of another executor's task, to flood an executor's shuffle port
with data for made-up jobs and to send it an oversized frame; a real
executor with an unlisted key tries to join; a job runs with CURVE on and
with separate key pairs per daemon, and its result is checked against
DuckDB. The task spec a registered process receives carries no warehouse
password.
"""
import os
import re
import shutil
import subprocess
import time

import pytest
import requests
import zmq

from conftest import binary, run_cli
from pg import database, query, server
from test_run import expected_buyers, warehouse_buyers

DAG = (os.path.join(os.path.dirname(__file__), "..", "..", "dags", "tickit_sales.yaml"))
PG_DAG = (os.path.join(os.path.dirname(__file__), "..", "..", "dags", "tickit_postgres.yaml"))


# ---- protobuf by hand: the few Control messages a rogue sends ------------

def _varint(v):
    v &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def _str(field, s):
    b = s.encode() if isinstance(s, str) else s
    return _varint(field << 3 | 2) + _varint(len(b)) + b


def _int(field, v):
    return _varint(field << 3) + _varint(v)


def register_msg(ex_id, address, slots=1):
    body = _str(1, ex_id) + _str(2, address) + _int(3, slots) + _int(4, 1 << 30)
    return _str(1, body)  # Control.register


def heartbeat_msg():
    return _str(2, _int(1, 0))  # Control.heartbeat


def failed_status_msg(job_id, stage, partition, attempt):
    body = (_str(1, job_id) + _int(2, stage) + _int(3, partition) + _int(4, attempt) +
            _int(5, 2) + _str(6, "forged failure") + _int(11, -9) + _int(12, 0))
    return _str(4, body)  # Control.status


def batch_header(job_id, stage, partition, seq, eos=False):
    """A BatchHeader without rows or columns: valid to the decoder."""
    return (_str(1, job_id) + _int(2, stage) + _int(3, partition) + _int(4, 0) + _int(5, 0) +
            _int(10, seq) + (_int(9, 1) if eos else b""))


# ---- helpers ---------------------------------------------------------------

def keygen(folder):
    r = run_cli("keygen", folder)
    assert r.returncode == 0, r.stderr
    assert oct(os.stat(folder / "secret.key").st_mode & 0o777) == "0o600"
    return (folder / "public.key").read_text().strip()


def authorize(folder, name, key):
    (folder / "authorized").mkdir(exist_ok=True)
    (folder / "authorized" / name).write_text(key + "\n")


def wait_until(pred, timeout=15):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.1)
    return False


def alive_ids(c):
    return {e["id"] for e in c.get("/v1/executors").json()["executors"] if e["state"] == "alive"}


def start_executor(c, tmp_path, name, args=(), env=None):
    e = dict(os.environ)
    e.update(env or {})
    log = open(tmp_path / f"{name}.log", "w")
    p = subprocess.Popen([binary("millrace-executor"), "--coordinator",
                          f"tcp://127.0.0.1:{c.ctl_port}", "--data-root", str(tmp_path),
                          "--id", name, *args], stdout=log, stderr=subprocess.STDOUT, env=e)
    c.executors.append(p)
    c.procs.append(p)
    return p


def submit_sales(c):
    r = c.post("/v1/jobs", json={"dag": open(DAG).read(),
                                 "params": {"data": "data", "warehouse": "wh.db"}})
    assert r.status_code == 201, r.text
    return r.json()["id"]


@pytest.fixture
def sales(tickit_data, tmp_path):
    (tmp_path / "data").mkdir()
    shutil.copy(tickit_data / "sales_pipe.txt", tmp_path / "data" / "sales_pipe.txt")
    return tmp_path / "data" / "sales_pipe.txt"


@pytest.fixture
def zctx():
    ctx = zmq.Context()
    yield ctx
    ctx.destroy(linger=0)


@pytest.fixture
def curve_cluster(cluster_factory, tmp_path, sales):
    """A coordinator and two executors, each with its own key pair: the
    coordinator authorizes both executors; each executor knows the
    coordinator's key and authorizes both executors."""
    keys = {n: tmp_path / "keys" / n for n in ("coord", "e0", "e1")}
    (tmp_path / "keys").mkdir()
    pub = {n: keygen(d) for n, d in keys.items()}
    for e in ("e0", "e1"):
        authorize(keys["coord"], f"{e}.key", pub[e])
        authorize(keys[e], "coordinator.key", pub["coord"])
        for peer in ("e0", "e1"):
            authorize(keys[e], f"{peer}.key", pub[peer])
    c = cluster_factory(executors=0, extra=("--curve-keys", str(keys["coord"])))
    for e in ("e0", "e1"):
        start_executor(c, tmp_path, f"sec-{e}-{os.getpid()}", ("--curve-keys", str(keys[e])))
    c.wait_executors(2)
    c.keys, c.pub = keys, pub
    return c


# ---- with CURVE ------------------------------------------------------------

def test_curve_job_matches_duckdb_and_strangers_are_refused(curve_cluster, tmp_path, sales, zctx):
    c = curve_cluster
    members = alive_ids(c)
    assert len(members) == 2

    # a rogue without CURVE cannot even complete the handshake
    plain = zctx.socket(zmq.DEALER)
    plain.setsockopt(zmq.IDENTITY, b"rogue-plain")
    plain.setsockopt(zmq.LINGER, 0)
    plain.connect(f"tcp://127.0.0.1:{c.ctl_port}")
    plain.send(register_msg("rogue-plain", "tcp://127.0.0.1:1"))
    # a rogue with a CURVE key of its own, not listed, is refused by the ZAP handler
    rpub, rsec = zmq.curve_keypair()
    keyed = zctx.socket(zmq.DEALER)
    keyed.setsockopt(zmq.IDENTITY, b"rogue-keyed")
    keyed.setsockopt(zmq.LINGER, 0)
    keyed.curve_publickey, keyed.curve_secretkey = rpub, rsec
    keyed.curve_serverkey = c.pub["coord"].encode()
    keyed.connect(f"tcp://127.0.0.1:{c.ctl_port}")
    keyed.send(register_msg("rogue-keyed", "tcp://127.0.0.1:1"))
    # a real executor with a pair the coordinator does not list
    stranger = tmp_path / "keys" / "stranger"
    keygen(stranger)
    authorize(stranger, "coordinator.key", c.pub["coord"])
    start_executor(c, tmp_path, "stranger", ("--curve-keys", str(stranger)))

    log = tmp_path / "coordinator.log"
    spub = (stranger / "public.key").read_text().strip()
    assert wait_until(lambda: rpub.decode() in log.read_text() and spub in log.read_text()), \
        log.read_text()
    text = log.read_text()
    assert f"refused a connection from 127.0.0.1: CURVE key {rpub.decode()} is not authorized" \
        in text
    assert f"CURVE key {spub} is not authorized" in text
    # the plain rogue's failed handshake is logged; libzmq reports it as a
    # protocol error or, depending on timing, without detail
    assert wait_until(lambda: re.search(r"refused a connection on tcp://\S+: the peer (does not "
                                        r"speak CURVE|failed the CURVE handshake)",
                                        log.read_text())), log.read_text()
    # a rogue with a CURVE key can also not feed an executor's shuffle port
    ex = c.get("/v1/executors").json()["executors"][0]
    data = zctx.socket(zmq.DEALER)
    data.setsockopt(zmq.LINGER, 0)
    data.curve_publickey, data.curve_secretkey = rpub, rsec
    data.curve_serverkey = c.pub["e0"].encode() if "e0" in ex["id"] else c.pub["e1"].encode()
    data.connect(ex["address"])
    data.send_multipart([batch_header("made-up", 0, 0, 0), b"x" * 1000])
    e_log = tmp_path / f"{ex['id']}.log"
    assert wait_until(lambda: rpub.decode() in e_log.read_text()), e_log.read_text()

    time.sleep(1)
    assert alive_ids(c) == members

    # the cluster itself works, with a key pair per daemon: right answers
    job = c.wait_job(submit_sales(c))
    assert job["state"] == "succeeded", job.get("error")
    assert warehouse_buyers(tmp_path / "wh.db") == expected_buyers(sales)
    assert alive_ids(c) == members


def test_run_uses_curve_with_keys_of_its_own(tickit_data, tmp_path):
    """`millrace run` makes a key pair for the run and removes it after."""
    db = tmp_path / "wh.db"
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    r = run_cli("run", DAG, "--param", f"data={tickit_data}", "--param", f"warehouse={db}",
                "--keep-logs", env={"TMPDIR": str(tmp)})
    assert r.returncode == 0, r.stdout + r.stderr
    assert warehouse_buyers(db) == expected_buyers(tickit_data / "sales_pipe.txt")
    runs = [d for d in tmp.iterdir() if d.name.startswith("millrace-run-")]
    assert len(runs) == 1, r.stderr
    coord = (runs[0] / "coordinator.log").read_text()
    assert "CURVE on" in coord and "curve=on" in coord
    assert not (runs[0] / "keys").exists(), "the run's keys were left behind"


# ---- without CURVE: checks that hold anyway --------------------------------

def test_forged_status_for_another_executors_task_is_ignored(cluster_factory, tmp_path, sales,
                                                            zctx):
    c = cluster_factory(executors=0)
    for i in range(2):
        start_executor(c, tmp_path, f"fs-{i}-{os.getpid()}",
                       env={"MILLRACE_TEST_BATCH_DELAY_MS": "150"})
    c.wait_executors(2)
    rogue = zctx.socket(zmq.DEALER)
    rogue.setsockopt(zmq.IDENTITY, b"rogue")
    rogue.setsockopt(zmq.LINGER, 0)
    rogue.connect(f"tcp://127.0.0.1:{c.ctl_port}")
    job_id = submit_sales(c)
    # a non-retryable failure of every task the job could have, again and
    # again while it runs: taken, any one would fail the job
    forged = 0
    while c.get(f"/v1/jobs/{job_id}").json()["state"] in ("queued", "running"):
        for stage in (0, 1):
            for part in range(8):
                rogue.send(failed_status_msg(job_id, stage, part, 0))
                forged += 1
        time.sleep(0.02)
    job = c.wait_job(job_id)
    assert forged > 0
    assert job["state"] == "succeeded", job.get("error")
    assert warehouse_buyers(tmp_path / "wh.db") == expected_buyers(sales)
    assert "ignoring a status from executor=rogue" in (tmp_path / "coordinator.log").read_text()


def held_bytes(c, ex_id):
    for e in c.get("/v1/executors").json()["executors"]:
        if e["id"] == ex_id:
            return e["shuffle_bytes_held"]
    raise AssertionError(f"no executor {ex_id}")


def test_shuffle_flood_for_unknown_jobs_is_bounded(cluster_factory, tmp_path, sales, zctx):
    c = cluster_factory(executors=0)
    name = f"flood-{os.getpid()}"
    start_executor(c, tmp_path, name)
    c.wait_executors(1)
    ex = c.get("/v1/executors").json()["executors"][0]
    s = zctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.setsockopt(zmq.SNDHWM, 100000)
    s.connect(ex["address"])
    payload = os.urandom(64 << 10)
    n = 1600  # 100 MiB for 400 made-up jobs
    for i in range(n):
        s.send_multipart([batch_header(f"fake-{i % 400}", 0, 0, i // 400), payload])
    # everything arrived and was judged: the executor reports what it dropped
    log = tmp_path / f"{name}.log"
    assert wait_until(lambda: _dropped(log) >= n - 200, 60), log.read_text()
    assert wait_until(lambda: held_bytes(c, name) > 0, 5)
    held = held_bytes(c, name)
    assert held <= 8 << 20, f"{held} bytes held for jobs nobody announced"
    # still serves real jobs
    job = c.wait_job(submit_sales(c))
    assert job["state"] == "succeeded", job.get("error")
    assert warehouse_buyers(tmp_path / "wh.db") == expected_buyers(sales)


def _dropped(log):
    found = re.findall(r"(\d+) messages \(\d+ bytes\) dropped in all", log.read_text())
    return int(found[-1]) if found else 0


def test_oversized_frame_is_dropped_before_it_is_kept(cluster_factory, tmp_path, sales, zctx):
    c = cluster_factory(executors=0)
    name = f"big-{os.getpid()}"
    start_executor(c, tmp_path, name, ("--max-message-bytes", str(1 << 20)))
    c.wait_executors(1)
    ex = c.get("/v1/executors").json()["executors"][0]
    s = zctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(ex["address"])
    s.send_multipart([batch_header("fake-big", 0, 0, 0), b"\0" * (4 << 20)])
    time.sleep(2.5)  # two heartbeats
    assert c.executors[0].poll() is None
    assert held_bytes(c, name) == 0
    # it never reached the store (which would have counted it as dropped)
    assert _dropped(tmp_path / f"{name}.log") == 0
    # the coordinator's control port has its own, smaller, bound
    ctl = zctx.socket(zmq.DEALER)
    ctl.setsockopt(zmq.LINGER, 0)
    ctl.connect(f"tcp://127.0.0.1:{c.ctl_port}")
    ctl.send(b"\0" * (20 << 20))
    job = c.wait_job(submit_sales(c))
    assert job["state"] == "succeeded", job.get("error")
    assert warehouse_buyers(tmp_path / "wh.db") == expected_buyers(sales)


def test_task_spec_carries_no_warehouse_password(cluster_factory, tmp_path, sales, zctx):
    """A process that registers receives task specs: the PostgreSQL DSN in
    them has no password, and the real executors add their own."""
    with server() as srv, database(srv) as dsn:
        secret = "s3cret-Pw-" + os.urandom(4).hex()
        full = f"{dsn} password={secret}"
        env = {"MILLRACE_WAREHOUSE_DSN": full}
        os.environ["MILLRACE_WAREHOUSE_DSN"] = full  # the coordinator's environment
        try:
            c = cluster_factory(executors=0, extra=("--lost-after-ms", "1500",
                                                     "--allow-env", "MILLRACE_WAREHOUSE_DSN"))
        finally:
            del os.environ["MILLRACE_WAREHOUSE_DSN"]
        rogue = zctx.socket(zmq.DEALER)
        rogue.setsockopt(zmq.IDENTITY, b"rogue-exec")
        rogue.setsockopt(zmq.LINGER, 0)
        rogue.connect(f"tcp://127.0.0.1:{c.ctl_port}")
        rogue.send(register_msg("rogue-exec", "tcp://127.0.0.1:9", slots=64))
        assert wait_until(lambda: "rogue-exec" in alive_ids(c), 5)
        r = c.post("/v1/jobs", json={"dag": open(PG_DAG).read(), "params": {"data": "data"}})
        assert r.status_code == 201, r.text
        job_id = r.json()["id"]
        specs = []
        end = time.time() + 10
        while time.time() < end and not specs:
            if rogue.poll(200):
                m = rogue.recv()
                if m[:1] == b"\x1a" and job_id.encode() in m:  # Control.task
                    specs.append(m)
        assert specs, "the registered rogue was given no task"
        assert b"dbname=" in specs[0] or b"dbname='" in specs[0]
        assert secret.encode() not in specs[0]
        rogue.close()  # silent from now on: declared lost, its task runs elsewhere
        for i in range(2):
            start_executor(c, tmp_path, f"pg-{i}-{os.getpid()}", env=env)
        job = c.wait_job(job_id, timeout=120)
        assert job["state"] == "succeeded", job.get("error")
        got = {r[0]: (int(r[1]), r[2], int(r[3])) for r in
               query(dsn, "SELECT buyerid, tickets, spent, purchases FROM buyer_tickets")}
        assert got == expected_buyers(sales)
        logs = "".join(p.read_text() for p in tmp_path.glob("*.log"))
        assert secret not in logs
