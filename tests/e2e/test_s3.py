"""s3:// inputs and outputs against a real S3-compatible server that checks
SigV4 signatures (moto's server, tests/e2e/s3server.py), with boto3 as the
independent client that uploads inputs and reads outputs back, and DuckDB
over local copies of the same files as the reference for results.

Covered: CSV, JSON Lines, Parquet and gzip reads through globs in keys;
listing across many pages (continuation tokens); one large object cut into
byte-range splits read in parallel with ranged GETs; keys with '=', spaces,
'+' and non-ASCII letters; a Parquet object read by footer and column
chunk ranges; raw CSV from s3:// transformed into PostgreSQL; 403 (access denied, wrong secret, unknown key
id), 404 (object, bucket) and an unreachable endpoint, each naming the
object; retries of 503 SlowDown and 500 through a fault-injecting proxy;
and no secret in any log, API answer or plan."""
import gzip
import json
import random
import sqlite3
import time

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError

import pg
from conftest import run_cli
from s3server import FaultProxy, S3Server

@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    srv = S3Server(str(tmp_path_factory.mktemp("moto")))
    yield srv
    srv.stop()


@pytest.fixture
def env(s3, monkeypatch):
    """The AWS environment of the daemons and the CLI, pointing at s3."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3.key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3.secret)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3.endpoint)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "4")
    return monkeypatch


def bucket(s3, name):
    c = s3.client()
    try:
        c.create_bucket(Bucket=name)
    except ClientError as e:
        if e.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
    return c


def sales(seed, n):
    rnd = random.Random(seed)
    return [(seed * 100000 + i, rnd.choice("nsew"), round(rnd.uniform(-999, 9999), 2))
            for i in range(n)]


def csv_text(rows, header=True):
    return ("id,region,amount\n" if header else "") + "".join(
        f"{i},{r},{a:.2f}\n" for i, r, a in rows)


def post(c, dag):
    r = c.post("/v1/jobs", data=dag.encode(), headers={"Content-Type": "application/yaml"})
    assert r.status_code == 201, r.text
    return c.wait_job(r.json()["id"])


def agg_dag(path, fmt="csv", extra=""):
    return f"""version: 1
name: s3read
warehouse: {{path: wh.db}}
nodes:
  r:
    op: read
    format: {fmt}
    path: "{path}"
{extra}  a:
    op: aggregate
    input: r
    group_by: [region]
    aggregates: {{n: count(*), total: sum(amount), ids: sum(id)}}
  w: {{op: write, input: a, to: warehouse, table: by_region, mode: overwrite}}
"""


def warehouse_rows(tmp_path):
    with sqlite3.connect(tmp_path / "wh.db") as db:
        return sorted((r, n, round(t, 2), i) for r, n, t, i in
                      db.execute("select region, n, total, ids from by_region"))


def duck_rows(sql):
    return sorted((r, n, round(float(t), 2), int(i)) for r, n, t, i in duckdb.sql(sql).fetchall())


def duck_agg(src):
    return duck_rows(f"select region, count(*), sum(amount), sum(id) from {src} group by region")


def test_server_checks_signatures(s3):
    """The test server is no pushover: a wrong secret gets 403."""
    bucket(s3, "sigcheck")
    s3.client().put_object(Bucket="sigcheck", Key="k.csv", Body=b"a\n1\n")
    with pytest.raises(ClientError) as e:
        s3.client(secret="wrong" + s3.secret[5:]).get_object(Bucket="sigcheck", Key="k.csv")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"


def test_csv_jsonl_parquet_gz_globs(s3, env, cluster_factory, tmp_path):
    c3 = bucket(s3, "raw")
    local = tmp_path / "local"
    local.mkdir()
    allrows = []
    for k, month in enumerate(["2024-01", "2024-02", "2024-03"]):
        rows = sales(k + 1, 1500)
        allrows += rows
        text = csv_text(rows)
        (local / f"{month}.csv").write_text(text)
        c3.put_object(Bucket="raw", Key=f"sales/{month}/part.csv", Body=text.encode())
        c3.put_object(Bucket="raw", Key=f"gz/{month}/part.csv.gz", Body=gzip.compress(text.encode()))
        c3.put_object(Bucket="raw", Key=f"json/{month}.jsonl", Body="".join(
            json.dumps({"id": i, "region": r, "amount": a}) + "\n" for i, r, a in rows).encode())
        t = pa.table({"id": [r[0] for r in rows], "region": [r[1] for r in rows],
                      "amount": [r[2] for r in rows]})
        pq.write_table(t, local / f"{month}.parquet", row_group_size=500, compression="snappy")
        c3.upload_file(str(local / f"{month}.parquet"), "raw", f"pq/{month}/data.parquet")
    # _SUCCESS and hidden keys are skipped by a glob, as on a local disk
    c3.put_object(Bucket="raw", Key="sales/2024-01/_SUCCESS", Body=b"")
    c3.put_object(Bucket="raw", Key="sales/2024-02/.hidden.csv", Body=b"junk")
    want = duck_agg(f"read_csv('{local}/*.csv')")
    assert sum(n for _, n, _, _ in want) == len(allrows) == 4500
    c = cluster_factory(executors=2)
    cases = [("s3://raw/sales/2024-*/*.csv", "csv"), ("s3://raw/gz/*/part.csv.gz", "csv"),
             ("s3://raw/json/*.jsonl", "jsonl"), ("s3://raw/pq/2024-0[1-3]/*.parquet", "parquet")]
    for path, fmt in cases:
        done = post(c, agg_dag(path, fmt))
        assert done["state"] == "succeeded", (path, done)
        assert warehouse_rows(tmp_path) == want, path
        assert done["stages"][0]["tasks"]["total"] >= 3, path  # one task per object at least


def test_listing_pages(s3, env, cluster_factory, tmp_path):
    """250 objects listed 7 to a page: every page is followed."""
    c3 = bucket(s3, "many")
    local = tmp_path / "many"
    local.mkdir()
    for k in range(250):
        text = csv_text(sales(1000 + k, 3))
        (local / f"f{k:03d}.csv").write_text(text)
        c3.put_object(Bucket="many", Key=f"in/f{k:03d}.csv", Body=text.encode())
    page = c3.list_objects_v2(Bucket="many", Prefix="in/", MaxKeys=7)
    assert page["IsTruncated"] and len(page["Contents"]) == 7  # the server pages as asked
    env.setenv("MILLRACE_S3_LIST_MAX_KEYS", "7")
    c = cluster_factory(executors=2)
    for path in ("s3://many/in/*.csv", "s3://many/in/"):
        done = post(c, agg_dag(path))
        assert done["state"] == "succeeded", done
        assert warehouse_rows(tmp_path) == duck_agg(f"read_csv('{local}/*.csv')")
        assert done["stages"][0]["tasks"]["total"] == 250


def test_large_object_ranged_parallel(s3, env, cluster_factory, tmp_path):
    """A 9 MB object in 1 MiB splits: many tasks, each reading its byte
    range with ranged GETs (seen at a pass-through proxy), none the whole
    object, and the same result as DuckDB over the file."""
    c3 = bucket(s3, "big")
    rows = sales(7, 550000)
    text = csv_text(rows)
    (tmp_path / "big.csv").write_text(text)
    c3.put_object(Bucket="big", Key="lineitem.csv", Body=text.encode())
    size = len(text)
    assert size > 8 << 20
    proxy = FaultProxy(s3.port)
    try:
        env.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
        c = cluster_factory(executors=2, extra=("--split-bytes", str(1 << 20)))
        done = post(c, agg_dag("s3://big/lineitem.csv"))
        assert done["state"] == "succeeded", done
        assert warehouse_rows(tmp_path) == duck_agg(f"read_csv('{tmp_path}/big.csv')")
        assert done["stages"][0]["tasks"]["total"] == (size + (1 << 20) - 1) // (1 << 20)
        gets = [rng for m, p, rng in proxy.seen if m == "GET" and p.startswith("/big/lineitem")]
        assert gets and all(rng and rng.startswith("bytes=") for rng in gets)
        spans = [tuple(map(int, rng[6:].split("-"))) for rng in gets]
        assert all(b - a + 1 < size for a, b in spans)
        assert len({a for a, _ in spans}) >= 8  # reads start all over the object
    finally:
        proxy.stop()


SPECIAL = ["odd/a=b.csv", "odd/with space.csv", "odd/plus+sign.csv", "odd/caf\u00e9 \u65e5\u672c.csv",
           "odd/q?mark&amp=1.csv"]


def test_special_keys(s3, env, cluster_factory, tmp_path):
    c3 = bucket(s3, "keys")
    local = tmp_path / "keys"
    local.mkdir()
    for k, key in enumerate(SPECIAL):
        text = csv_text(sales(50 + k, 40))
        (local / f"{k}.csv").write_text(text)
        c3.put_object(Bucket="keys", Key=key, Body=text.encode())
    listed = [o["Key"] for o in c3.list_objects_v2(Bucket="keys")["Contents"]]
    assert sorted(listed) == sorted(SPECIAL)
    c = cluster_factory(executors=2)
    done = post(c, agg_dag("s3://keys/odd/*.csv"))
    assert done["state"] == "succeeded", done
    assert warehouse_rows(tmp_path) == duck_agg(f"read_csv('{local}/*.csv')")
    assert done["stages"][0]["tasks"]["total"] == len(SPECIAL)
    # listings whose prefix holds the odd characters (signed by millrace:
    # the prefix is a query parameter)
    for pattern, ks in (("odd/a=*", [0]), ("odd/with *", [1]), ("odd/plus+*", [2]),
                        ("odd/caf\u00e9 *", [3]), ("odd/q[?]mark&*", [4])):
        done = post(c, agg_dag(f"s3://keys/{pattern}"))
        assert done["state"] == "succeeded", (pattern, done)
        want = duck_agg(f"read_csv([{', '.join(repr(str(local / f'{k}.csv')) for k in ks)}])")
        assert warehouse_rows(tmp_path) == want, pattern
    for k, key in enumerate(SPECIAL):  # each named outright (a '?' in a key is a glob: skip)
        if "?" in key:
            continue
        done = post(c, agg_dag(f"s3://keys/{key}"))
        assert done["state"] == "succeeded", (key, done)
        assert warehouse_rows(tmp_path) == duck_agg(f"read_csv('{local}/{k}.csv')"), key


def validate(tmp_path, path, fmt="csv"):
    (tmp_path / "v.yaml").write_text(agg_dag(path, fmt))
    return run_cli("validate", tmp_path / "v.yaml", cwd=tmp_path)


def test_errors_name_the_object_never_the_secret(s3, env, tmp_path):
    c3 = bucket(s3, "errs")
    c3.put_object(Bucket="errs", Key="ok/a.csv", Body=csv_text(sales(1, 5)).encode())
    r = validate(tmp_path, "s3://errs/ok/a.csv")
    assert r.returncode == 0, r.stderr
    outs = []

    def check(path, *words, **envs):
        for k, v in envs.items():
            env.setenv(k, v)
        r = validate(tmp_path, path)
        out = r.stdout + r.stderr
        outs.append(out)
        assert r.returncode == 2, out
        for w in words:
            assert w in out, (w, out)
        return out

    check("s3://errs/ok/missing.csv", "s3://errs/ok/missing.csv", "does not exist")
    check("s3://nobucket-here/x.csv", "s3://nobucket-here/x.csv", "bucket does not exist",
          "NoSuchBucket")
    denied_id, denied_secret = s3.user("denied", '{"Version":"2012-10-17","Statement":[{"Effect":'
                                       '"Allow","Action":"s3:ListBucket","Resource":"*"}]}')
    check("s3://errs/ok/a.csv", "s3://errs/ok/a.csv", "access denied", "403",
          AWS_ACCESS_KEY_ID=denied_id, AWS_SECRET_ACCESS_KEY=denied_secret)
    env.setenv("AWS_ACCESS_KEY_ID", s3.key_id)
    wrong = "Wr0ng" + s3.secret[5:]
    check("s3://errs/ok/a.csv", "s3://errs/ok/a.csv", "bad credentials", "AWS_SECRET_ACCESS_KEY",
          "SignatureDoesNotMatch", AWS_SECRET_ACCESS_KEY=wrong)
    env.setenv("AWS_SECRET_ACCESS_KEY", s3.secret)
    check("s3://errs/ok/*.csv", "s3://errs/ok/", "bad credentials", "AWS_ACCESS_KEY_ID",
          AWS_ACCESS_KEY_ID="AKIAUNKNOWNKEY000000")
    env.setenv("AWS_ACCESS_KEY_ID", s3.key_id)
    check("s3://errs/ok/a.csv", "AWS_ENDPOINT_URL", "has a path",
          AWS_ENDPOINT_URL=s3.endpoint + "/errs")
    check("s3://errs/ok/a.csv", "s3://errs/ok/a.csv", "cannot reach the S3 endpoint",
          "http://127.0.0.1:9", "4 attempts", AWS_ENDPOINT_URL="http://127.0.0.1:9")
    for out in outs:
        assert s3.secret not in out and wrong not in out and denied_secret not in out


def test_retries_throttling_and_5xx(s3, env, cluster_factory, tmp_path):
    """Each object's first two GETs answer 503 SlowDown or 500: the job
    succeeds with the right rows; a store that keeps failing fails the job
    with a message naming the object and the status."""
    c3 = bucket(s3, "flaky")
    local = tmp_path / "flaky"
    local.mkdir()
    for k in range(3):
        text = csv_text(sales(300 + k, 100))
        (local / f"{k}.csv").write_text(text)
        c3.put_object(Bucket="flaky", Key=f"in/{k}.csv", Body=text.encode())
    failed = {}

    def flaky(method, path, headers):
        if method != "GET" or "/in/" not in path:
            return None
        failed[path] = failed.get(path, 0) + 1
        if failed[path] <= 2:
            return (503, "SlowDown") if failed[path] == 1 else (500, "InternalError")
        return None

    proxy = FaultProxy(s3.port, flaky)
    try:
        env.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
        # a task whose requests keep failing is retried three times, then
        # fails the job (not for a minute: the retry deadline is short)
        c = cluster_factory(executors=2, extra=("--retry-deadline-ms", "1000"))
        done = post(c, agg_dag("s3://flaky/in/*.csv"))
        assert done["state"] == "succeeded", done
        assert warehouse_rows(tmp_path) == duck_agg(f"read_csv('{local}/*.csv')")
        assert sum(1 for v in failed.values() if v > 2) == 3  # every object was retried
        proxy.fail = lambda m, p, h: (503, "SlowDown") if m == "GET" and "/in/1.csv" in p else None
        done = post(c, agg_dag("s3://flaky/in/*.csv"))
        assert done["state"] == "failed", done
        assert "s3://flaky/in/1.csv" in done["error"] and "503 SlowDown" in done["error"], done
    finally:
        proxy.stop()


def test_session_credentials_and_no_secret_anywhere(s3, env, cluster_factory, tmp_path):
    """Temporary credentials (an assumed role's key, secret and session
    token, which the server checks) read objects through both signers (a
    listing signed by millrace, ranged GETs signed by libcurl); neither the
    secret nor the token appears in a log, an API answer, a plan or the
    CLI's output, also when the credentials are refused."""
    c3 = bucket(s3, "quiet")
    c3.put_object(Bucket="quiet", Key="in/a.csv", Body=csv_text(sales(9, 50)).encode())
    key_id, secret, token = s3.session("reader")
    env.setenv("AWS_ACCESS_KEY_ID", key_id)
    env.setenv("AWS_SECRET_ACCESS_KEY", secret)
    env.setenv("AWS_SESSION_TOKEN", token)
    c = cluster_factory(executors=2)
    done = post(c, agg_dag("s3://quiet/in/*.csv"))
    assert done["state"] == "succeeded", done
    with sqlite3.connect(tmp_path / "wh.db") as db:
        assert db.execute("select sum(n) from by_region").fetchone()[0] == 50
    answers = [json.dumps(done)]
    for path in ("/v1/jobs", f"/v1/jobs/{done['id']}", f"/v1/jobs/{done['id']}/plan"):
        answers.append(c.get(path).text)
    env.setenv("AWS_SESSION_TOKEN", token[:-4] + "AAAA")
    (tmp_path / "e.yaml").write_text(agg_dag("s3://quiet/in/a.csv"))
    r = run_cli("validate", tmp_path / "e.yaml", cwd=tmp_path)
    assert r.returncode == 2 and "s3://quiet/in/a.csv" in r.stderr, r.stderr
    answers.append(r.stdout + r.stderr)
    env.setenv("AWS_SESSION_TOKEN", token)
    r = run_cli("explain", tmp_path / "e.yaml", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    answers.append(r.stdout + r.stderr)
    c.stop()
    logs = [p.read_text() for p in tmp_path.glob("*.log")]
    assert logs
    for text in answers + logs:
        assert secret not in text and token not in text and token[:-4] not in text


def keys(c3, b, prefix=""):
    out, token = [], None
    while True:
        kw = {"Bucket": b, "Prefix": prefix}
        if token:
            kw["ContinuationToken"] = token
        page = c3.list_objects_v2(**kw)
        out += [o["Key"] for o in page.get("Contents", [])]
        if not page.get("IsTruncated"):
            return sorted(out)
        token = page["NextContinuationToken"]


def write_dag(src, to, path, mode="overwrite", fmt="csv"):
    return f"""version: 1
name: s3write
nodes:
  r: {{op: read, format: {fmt}, path: "{src}"}}
  f: {{op: filter, input: r, where: "amount > -500"}}
  w: {{op: write, input: f, to: {to}, path: "{path}", mode: {mode}}}
"""


def read_back(c3, b, ks, tmp_path, ext):
    """The output's parts downloaded by boto3, as one DuckDB relation."""
    d = tmp_path / f"back-{ext}"
    d.mkdir(exist_ok=True)
    for f in d.iterdir():
        f.unlink()
    for k in ks:
        if k.endswith("." + ext):
            c3.download_file(b, k, str(d / k.replace("/", "_")))
    return f"read_{'csv' if ext == 'csv' else 'json'}('{d}/*.{ext}')"


def test_write_csv_jsonl_exactly_parts_and_success(s3, env, cluster_factory, tmp_path):
    c3 = bucket(s3, "out")
    local = tmp_path / "in"
    local.mkdir()
    for k in range(3):
        text = csv_text(sales(600 + k, 2000))
        (local / f"{k}.csv").write_text(text)
        c3.put_object(Bucket="out", Key=f"in/{k}.csv", Body=text.encode())
    # an old output with more parts and a stray key: overwrite replaces all
    for k in range(5):
        c3.put_object(Bucket="out", Key=f"res/sales/part-{k:05d}.csv", Body=b"id\n-1\n")
    c3.put_object(Bucket="out", Key="res/sales/stray.txt", Body=b"old")
    c3.put_object(Bucket="out", Key="res/sales-sibling/keep.csv", Body=b"keep")
    want = duck_rows(f"select region, count(*), sum(amount), sum(id) from "
                     f"read_csv('{local}/*.csv') where amount > -500 group by region")
    c = cluster_factory(executors=2)
    for to, ext in (("csv", "csv"), ("jsonl", "jsonl")):
        path = f"s3://out/res/sales{'' if ext == 'csv' else '_json'}"
        done = post(c, write_dag("s3://out/in/*.csv", to, path))
        assert done["state"] == "succeeded", done
        prefix = "res/sales/" if ext == "csv" else "res/sales_json/"
        got = keys(c3, "out", prefix)
        assert got == [f"{prefix}_SUCCESS"] + [f"{prefix}part-{k:05d}.{ext}" for k in range(3)], got
        assert not [k for k in keys(c3, "out") if "millrace-tmp" in k]
        rel = read_back(c3, "out", got, tmp_path, ext)
        assert duck_rows(f"select region, count(*), sum(amount), sum(id) from {rel} "
                         f"group by region") == want
    assert "res/sales-sibling/keep.csv" in keys(c3, "out")  # a neighbour is not the output's
    # error_if_exists refuses an existing output and leaves it as it was
    before = keys(c3, "out", "res/sales/")
    done = post(c, write_dag("s3://out/in/*.csv", "csv", "s3://out/res/sales",
                             mode="error_if_exists"))
    assert done["state"] == "failed" and "already exists" in done["error"], done
    assert keys(c3, "out", "res/sales/") == before


def test_write_multipart_large_part(s3, env, cluster_factory, tmp_path):
    """One 12 MB part with 5 MiB upload parts: a multipart upload (seen at
    the proxy), read back whole."""
    c3 = bucket(s3, "mpart")
    rows = sales(77, 700000)
    text = csv_text(rows)
    (tmp_path / "big.csv").write_text(text)
    c3.put_object(Bucket="mpart", Key="in/big.csv", Body=text.encode())
    proxy = FaultProxy(s3.port)
    try:
        env.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
        env.setenv("MILLRACE_S3_PART_BYTES", str(5 << 20))
        c = cluster_factory(executors=1, extra=("--split-bytes", str(64 << 20)))
        done = post(c, write_dag("s3://mpart/in/big.csv", "csv", "s3://mpart/out"))
        assert done["state"] == "succeeded", done
    finally:
        proxy.stop()
    got = keys(c3, "mpart", "out/")
    assert got == ["out/_SUCCESS", "out/part-00000.csv"], got
    assert c3.head_object(Bucket="mpart", Key="out/part-00000.csv")["ContentLength"] > 10 << 20
    posts = [p for m, p, _ in proxy.seen if m == "POST" and "uploads" in p]
    parts = [p for m, p, _ in proxy.seen if m == "PUT" and "partNumber=" in p]
    assert len(posts) == 1 and len(parts) >= 3, proxy.seen
    rel = read_back(c3, "mpart", got, tmp_path, "csv")
    assert duck_rows(f"select region, count(*), sum(amount), sum(id) from {rel} group by region") \
        == duck_rows(f"select region, count(*), sum(amount), sum(id) from "
                     f"read_csv('{tmp_path}/big.csv') where amount > -500 group by region")
    assert not [k for k in keys(c3, "mpart") if "millrace-tmp" in k]


def test_failed_write_leaves_nothing(s3, env, cluster_factory, tmp_path):
    """A job whose one task fails on bad data after the others staged their
    parts: no output, no temporary key; an upload refused once (500 until
    the attempt gives up) is retried as a new attempt and the output is
    still exactly its parts."""
    c3 = bucket(s3, "fail")
    for k in range(3):
        c3.put_object(Bucket="fail", Key=f"in/{k}.csv", Body=csv_text(sales(700 + k, 3000)).encode())
    c3.put_object(Bucket="fail", Key="in/9.csv", Body=b"id,region,amount\n1,n,notanumber\n")
    c = cluster_factory(executors=2)
    dag = write_dag("s3://fail/in/*.csv", "csv", "s3://fail/out").replace(
        "format: csv,", "format: csv, schema: {id: int64, region: string, amount: double},")
    done = post(c, dag)
    assert done["state"] == "failed", done
    assert "9.csv" in done["error"], done
    # attempts still running when the job failed may finish their upload
    # after it: their report makes the coordinator clear the prefix again
    end = time.time() + 20
    while keys(c3, "fail") != [f"in/{k}.csv" for k in (0, 1, 2, 9)] and time.time() < end:
        time.sleep(0.2)
    assert keys(c3, "fail") == [f"in/{k}.csv" for k in (0, 1, 2, 9)]
    c.stop()
    c3.delete_object(Bucket="fail", Key="in/9.csv")
    refused = {}

    def refuse_first_attempt(method, path, headers):
        # task 0's first attempt: its part upload keeps failing
        if method == "PUT" and "millrace-tmp" in path and path.endswith("_0.csv") and \
                "_0_0_0" in path:
            refused[path] = refused.get(path, 0) + 1
            return (500, "InternalError")
        return None

    proxy = FaultProxy(s3.port, refuse_first_attempt)
    try:
        env.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
        c = cluster_factory(executors=2)
        done = post(c, write_dag("s3://fail/in/*.csv", "csv", "s3://fail/out"))
        assert done["state"] == "succeeded", done
    finally:
        proxy.stop()
    assert refused and all(v == 4 for v in refused.values()), refused  # AWS_MAX_ATTEMPTS=4
    assert keys(c3, "fail", "out/") == ["out/_SUCCESS"] + [f"out/part-{k:05d}.csv" for k in range(3)]
    assert not [k for k in keys(c3, "fail") if "millrace-tmp" in k]


def test_write_to_odd_key(s3, env, cluster_factory, tmp_path):
    """An output whose key holds a space, '=', '+' and UTF-8: staging,
    CopyObject (its x-amz-copy-source encoded like the path) and _SUCCESS."""
    c3 = bucket(s3, "oddout")
    local = tmp_path / "in"
    local.mkdir()
    for k in range(2):
        text = csv_text(sales(800 + k, 500))
        (local / f"{k}.csv").write_text(text)
        c3.put_object(Bucket="oddout", Key=f"in/{k}.csv", Body=text.encode())
    c = cluster_factory(executors=2)
    path = "s3://oddout/res/year=2024 a+b/caf\u00e9"
    done = post(c, write_dag("s3://oddout/in/*.csv", "csv", path))
    assert done["state"] == "succeeded", done
    prefix = "res/year=2024 a+b/caf\u00e9/"
    got = keys(c3, "oddout", prefix)
    assert got == [prefix + "_SUCCESS", prefix + "part-00000.csv", prefix + "part-00001.csv"], got
    assert not [k for k in keys(c3, "oddout") if "millrace-tmp" in k]
    rel = read_back(c3, "oddout", got, tmp_path, "csv")
    assert duck_rows(f"select region, count(*), sum(amount), sum(id) from {rel} group by region") \
        == duck_rows(f"select region, count(*), sum(amount), sum(id) from read_csv('{local}/*.csv') "
                     f"where amount > -500 group by region")


def test_parquet_object_by_ranges(s3, env, cluster_factory, tmp_path):
    """A Parquet object of many row groups in small splits: each task reads
    the footer (a range at the object's end) and its row groups' column
    chunks by range, never the whole object; rows as DuckDB reads them."""
    c3 = bucket(s3, "pqbig")
    rows = sales(31, 200000)
    t = pa.table({"id": [r[0] for r in rows], "region": [r[1] for r in rows],
                  "amount": [r[2] for r in rows], "pad": [f"{r[0]:032d}" for r in rows]})
    pq.write_table(t, tmp_path / "big.parquet", row_group_size=20000, compression="snappy")
    size = (tmp_path / "big.parquet").stat().st_size
    c3.upload_file(str(tmp_path / "big.parquet"), "pqbig", "t/big.parquet")
    proxy = FaultProxy(s3.port)
    try:
        env.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
        c = cluster_factory(executors=2, extra=("--split-bytes", str(256 << 10)))
        done = post(c, agg_dag("s3://pqbig/t/big.parquet", "parquet"))
        assert done["state"] == "succeeded", done
    finally:
        proxy.stop()
    assert warehouse_rows(tmp_path) == duck_agg(f"read_parquet('{tmp_path}/big.parquet')")
    assert done["stages"][0]["tasks"]["total"] > 2
    gets = [rng for m, p, rng in proxy.seen if m == "GET" and p.startswith("/pqbig/t/big")]
    spans = [tuple(map(int, rng[6:].split("-"))) for rng in gets]
    assert all(b - a + 1 < size for a, b in spans), spans
    assert any(b >= size - 1 and a > 0 for a, b in spans)  # the footer, from the end


@pytest.fixture(scope="module")
def pg_server():
    with pg.server() as dsn:
        yield dsn


def test_raw_csv_from_s3_into_postgres(s3, env, pg_server, tmp_path):
    """Raw pipe-delimited sales in s3://, typed, filtered and aggregated by
    `millrace run` into a PostgreSQL warehouse; the same as DuckDB."""
    c3 = bucket(s3, "rawpg")
    local = tmp_path / "raw"
    local.mkdir()
    for k in range(3):
        text = "".join(f"{i}|{r}|{a:.2f}\n" for i, r, a in sales(900 + k, 4000))
        (local / f"{k}.txt").write_text(text)
        c3.put_object(Bucket="rawpg", Key=f"tickit/sales_{k}.txt", Body=text.encode())
    with pg.database(pg_server) as dsn:
        (tmp_path / "pg.yaml").write_text("""version: 1
name: s3_to_pg
warehouse:
  driver: postgres
  dsn: "${env:MILLRACE_WAREHOUSE_DSN}"
nodes:
  r:
    op: read
    format: csv
    path: "s3://rawpg/tickit/sales_*.txt"
    csv: {header: false, delimiter: "|"}
    schema: {id: int64, region: string, amount: "decimal(12,2)"}
  f: {op: filter, input: r, where: "amount > 0"}
  a:
    op: aggregate
    input: f
    group_by: [region]
    aggregates: {n: count(*), total: sum(amount), ids: sum(id)}
  w: {op: write, input: a, to: warehouse, table: by_region, mode: overwrite}
""")
        r = run_cli("run", tmp_path / "pg.yaml", "--executors", 2,
                    env={"MILLRACE_WAREHOUSE_DSN": dsn})
        assert r.returncode == 0, r.stdout + r.stderr
        got = sorted((reg, int(n), round(float(t), 2), int(i)) for reg, n, t, i in
                     pg.query(dsn, "SELECT region, n, total, ids FROM by_region"))
    want = duck_rows(f"select region, count(*), sum(amount), sum(id) from read_csv('{local}/*.txt', "
                     f"delim='|', header=false, columns={{'id': 'BIGINT', 'region': 'VARCHAR', "
                     f"'amount': 'DECIMAL(12,2)'}}) where amount > 0 group by region")
    assert got == want and sum(n for _, n, _, _ in got) > 5000


# ---- incremental reads of objects (docs/bookmarks.md) ----------------------

INC_DAG = """version: 1
name: %(name)s
params:
  check: SELECT 1
warehouse: {path: wh.db}
nodes:
  src:
    op: read
    format: csv
    path: "%(path)s"
    schema: {id: int64, cust: string, amount: "decimal(10,2)", updated_at: timestamp}
    incremental: %(inc)s
  out: {op: write, input: src, to: warehouse, table: %(table)s, mode: append}
post_sql:
  - "${check}"
"""

INC_COLS = ("columns={'id': 'BIGINT', 'cust': 'VARCHAR', 'amount': 'DECIMAL(10,2)', "
            "'updated_at': 'TIMESTAMP'}")


def inc_text(seed, n, base_id, day):
    """n rows with ids from base_id and times on 2024-02-<day>."""
    rnd = random.Random(seed)
    return "id,cust,amount,updated_at\n" + "".join(
        "%d,c%02d,%d.%02d,2024-02-%02d %02d:%02d:%02d\n" % (
            base_id + k, rnd.randrange(100), rnd.randrange(100, 1000), rnd.randrange(100), day,
            k // 60 % 24, k % 60, rnd.randrange(60)) for k in range(n))


def inc_norm(rows):
    return sorted((int(i), c, "%.2f" % float(a), str(t).replace("T", " ")) for i, c, a, t in rows)


def inc_table(tmp_path, table):
    db = tmp_path / "wh.db"
    if not db.exists():
        return []
    with sqlite3.connect(db) as con:
        try:
            return inc_norm(con.execute(f"select id, cust, amount, updated_at from {table}"))
        except sqlite3.OperationalError as e:
            assert "no such table" in str(e)
            return []


def inc_bookmarks(tmp_path, dag):
    with sqlite3.connect(tmp_path / "wh.db") as con:
        return sorted(con.execute("select node, kind, item, value, size, mtime_ns from "
                                  "millrace_bookmarks where dag = ?", (dag,)))


def test_incremental_files_on_objects(s3, env, tmp_path):
    """Objects land over several runs (new keys, one key uploaded again with
    other content of the same size, one again with the same content); each
    run of an `incremental: files` read loads exactly the objects whose URL,
    size and ETag it has not loaded, and the table equals DuckDB's reading
    of every version that should have been loaded.  A run whose post_sql
    fails moves no bookmark and loads nothing."""
    c3 = bucket(s3, "incfiles")
    (tmp_path / "inc.yaml").write_text(INC_DAG % {
        "name": "s3_inc_files", "path": "s3://incfiles/landing/*.csv", "inc": "files",
        "table": "t"})
    loaded = tmp_path / "loaded"  # each version that should be in the table
    loaded.mkdir()
    versions = {}

    def land(key, text):
        c3.put_object(Bucket="incfiles", Key=f"landing/{key}", Body=text.encode())
        versions[key] = text

    def expect_loaded(keys):
        for k in keys:
            n = len(list(loaded.iterdir()))
            (loaded / f"{n:03d}-{k}").write_text(versions[k])

    def oracle():
        return inc_norm(duckdb.sql(f"select id, cust, amount, strftime(updated_at, "
                                   f"'%Y-%m-%d %H:%M:%S') from read_csv('{loaded}/*', "
                                   f"header=true, {INC_COLS})").fetchall())

    def run(*args):
        return run_cli("run", tmp_path / "inc.yaml", "--executors", 2, *args)

    # run 1: two objects (and a hidden one and a _SUCCESS, never read)
    land("a.csv", inc_text(1, 300, 1000, 1))
    land("b.csv", inc_text(2, 200, 2000, 2))
    c3.put_object(Bucket="incfiles", Key="landing/.a.csv.tmp", Body=b"junk")
    c3.put_object(Bucket="incfiles", Key="landing/_SUCCESS", Body=b"")
    r = run()
    assert r.returncode == 0 and "2 new, 0 already loaded" in r.stdout, r.stdout + r.stderr
    expect_loaded(["a.csv", "b.csv"])
    assert inc_table(tmp_path, "t") == oracle() and len(oracle()) == 500
    # run 2: nothing new
    r = run()
    assert r.returncode == 0 and "nothing new" in r.stdout, r.stdout + r.stderr
    assert inc_table(tmp_path, "t") == oracle()
    # run 3: a new key; a.csv uploaded again with other content of the same
    # size (only its ETag tells); b.csv again with the very same bytes
    land("c.csv", inc_text(3, 150, 3000, 3))
    old_a = versions["a.csv"]
    new_a = inc_text(11, 300, 5000, 4)
    assert len(new_a) == len(old_a) and new_a != old_a
    land("a.csv", new_a)
    land("b.csv", versions["b.csv"])
    r = run()
    assert r.returncode == 0 and "2 new, 1 already loaded" in r.stdout, r.stdout + r.stderr
    expect_loaded(["a.csv", "c.csv"])
    got = inc_table(tmp_path, "t")
    assert got == oracle() and len(got) == 950
    assert len({row[0] for row in got}) == len(got)  # no row twice
    # run 4: a new key, but post_sql fails: nothing loaded, no bookmark moved
    land("d.csv", inc_text(4, 120, 4000, 5))
    before = inc_bookmarks(tmp_path, "s3_inc_files")
    r = run("--param", "check=SELECT * FROM no_such_table")
    assert r.returncode == 1 and "post_sql" in r.stderr, r.stdout + r.stderr
    assert inc_bookmarks(tmp_path, "s3_inc_files") == before
    assert inc_table(tmp_path, "t") == oracle()
    # run 5 catches up: d.csv only
    r = run()
    assert r.returncode == 0 and "1 new, 3 already loaded" in r.stdout, r.stdout + r.stderr
    expect_loaded(["d.csv"])
    got = inc_table(tmp_path, "t")
    assert got == oracle() and len(got) == 1070 and len({row[0] for row in got}) == 1070
    # the bookmarks: URL, size and the listing's ETag; no mtime for an object
    bms = [b for b in inc_bookmarks(tmp_path, "s3_inc_files") if b[1] == "file"]
    assert [b[2] for b in bms] == [f"s3://incfiles/landing/{k}"
                                   for k in ("a.csv", "b.csv", "c.csv", "d.csv")]
    for _, _, url, etag, size, mtime in bms:
        head = c3.head_object(Bucket="incfiles", Key=url[len("s3://incfiles/"):])
        assert (etag, size, mtime) == (head["ETag"], head["ContentLength"], None)
    # `millrace bookmarks` shows them with their ETags
    r = run_cli("bookmarks", tmp_path / "inc.yaml")
    assert r.returncode == 0, r.stderr
    for _, _, url, etag, size, _ in bms:
        assert f"{url} ({size} bytes, etag {etag})" in r.stdout, r.stdout
    # --full-refresh reads every object again (append: each current one twice)
    r = run("--full-refresh")
    assert r.returncode == 0 and "4 new" in r.stdout, r.stdout + r.stderr
    expect_loaded(["a.csv", "b.csv", "c.csv", "d.csv"])
    assert inc_table(tmp_path, "t") == oracle()


def test_incremental_column_on_objects(s3, env, tmp_path):
    """`incremental: {column}` over s3:// objects: each run loads the rows
    above the last watermark, whichever object holds them; the table equals
    DuckDB's filter of the objects at each run by the watermark before it."""
    c3 = bucket(s3, "inccol")
    (tmp_path / "col.yaml").write_text(INC_DAG % {
        "name": "s3_inc_col", "path": "s3://inccol/events/", "inc": "{column: updated_at}",
        "table": "t"})
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    want = []
    mark = None

    def land(key, text):
        c3.put_object(Bucket="inccol", Key=f"events/{key}", Body=text.encode())
        (mirror / key).write_text(text)

    def run_and_check(expect_new):
        nonlocal mark, want
        where = f"where updated_at > TIMESTAMP '{mark}'" if mark else ""
        new = inc_norm(duckdb.sql(f"select id, cust, amount, strftime(updated_at, "
                                  f"'%Y-%m-%d %H:%M:%S') from read_csv('{mirror}/*.csv', "
                                  f"header=true, {INC_COLS}) {where}").fetchall())
        assert len(new) == expect_new
        r = run_cli("run", tmp_path / "col.yaml", "--executors", 2)
        assert r.returncode == 0, r.stdout + r.stderr
        if new:
            mark = max(row[3] for row in new)
        else:
            assert "nothing new" in r.stdout, r.stdout
        want = sorted(want + new)
        assert inc_table(tmp_path, "t") == want

    land("d1.csv", inc_text(1, 250, 1000, 1))
    land("d2.csv", inc_text(2, 250, 2000, 2))
    run_and_check(500)
    run_and_check(0)
    # a new object with later rows, and d1 uploaded again with a late row
    # that is older than the watermark (not loaded) and its rows as before
    land("d3.csv", inc_text(3, 100, 3000, 3))
    land("d1.csv", inc_text(1, 250, 1000, 1) + "9999,late,1.00,2024-02-01 00:00:00\n")
    run_and_check(100)
    with sqlite3.connect(tmp_path / "wh.db") as con:
        assert con.execute("select value from millrace_bookmarks where dag = 's3_inc_col' and "
                           "kind = 'column'").fetchall() == [(mark,)]
