"""The check op end to end: every rule kind and action, on one and several
executors (unique keys cross partitions and files), judged against the same
rules computed by DuckDB over the same files; millrace_checks and
millrace_rejects in SQLite and PostgreSQL; a failing rule that leaves the
warehouse untouched; the API; bad rules at file:line:column."""
import json
import random
import re
import sqlite3

import duckdb
import pytest

import pg
from conftest import run_cli

COLUMNS = "id,region,amount,name"


def make_data(tmp_path, files=3, rows=4000, seed=7):
    """files CSV files; ids repeat within and across files, some amounts
    are negative or NULL, some names NULL or odd."""
    rnd = random.Random(seed)
    d = tmp_path / "data"
    d.mkdir()
    for f in range(files):
        lines = [COLUMNS]
        for i in range(rows):
            ident = rnd.randrange(rows * files * 2) if rnd.random() < 0.98 else rnd.randrange(40)
            amount = "" if rnd.random() < 0.01 else str(rnd.randint(-20, 600))
            name = "" if rnd.random() < 0.02 else rnd.choice(["ann", "bo\"b", "cé", "d,e"])
            if '"' in name or "," in name:
                name = '"' + name.replace('"', '""') + '"'
            region = "" if rnd.random() < 0.01 else rnd.choice(["n", "s", "e", "w"])
            lines.append(f"{ident},{region},{amount},{name}")
        (d / f"part{f}.csv").write_text("\n".join(lines) + "\n")
    return d


SCHEMA = "{id: int64, region: string, amount: int64, name: string}"


def dag_text(rules, warehouse="warehouse: {driver: sqlite, path: wh.db}", table="sales"):
    body = "".join(f"      - {r}\n" for r in rules)
    return f"""version: 1
name: quality
params: {{data: data}}
{warehouse}
nodes:
  sales: {{op: read, format: csv, path: "${{data}}/*.csv", schema: {SCHEMA}}}
  q:
    op: check
    input: sales
    rules:
{body}  load: {{op: write, input: q, to: warehouse, table: {table}, mode: overwrite}}
"""


RULES = [
    '{name: positive, expect: "amount >= 0", on_fail: reject}',
    '{name: has_name, expect: "name IS NOT NULL", on_fail: warn}',
    '{name: small, expect: "amount < 500 OR region = \'n\'", on_fail: warn}',
    '{name: ids, unique: [id], on_fail: warn}',
    '{name: id_region, unique: [id, region], on_fail: warn}',
    '{name: enough, row_count: {min: 100, max: 1000000}}',
    '{name: too_many, row_count: {max: 50}, on_fail: warn}',
    '{name: avg_ok, aggregate: "avg(amount) BETWEEN 10 AND 500"}',
    '{name: spread, aggregate: "max(amount) - min(amount) < 100 AND count(*) > 0", on_fail: warn}',
]


def duck(data):
    con = duckdb.connect()
    con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{data}/*.csv', header=true, "
                "columns={'id': 'BIGINT', 'region': 'VARCHAR', 'amount': 'BIGINT', 'name': 'VARCHAR'})")
    return con


def expected(data):
    """Each rule's (rows_checked, rows_failed, passed) by DuckDB."""
    con = duck(data)
    q = lambda sql: con.execute(sql).fetchone()[0]
    n = q("SELECT count(*) FROM t")

    def expect(cond):
        return q(f"SELECT count(*) FROM t WHERE ({cond}) IS NOT TRUE")

    def unique(cols):
        c = ", ".join(cols)
        nn = " AND ".join(f"{x} IS NOT NULL" for x in cols)
        return q(f"SELECT coalesce(sum(k), 0) FROM (SELECT count(*) AS k FROM t WHERE {nn} "
                 f"GROUP BY {c} HAVING count(*) > 1)")

    out = {
        "positive": expect("amount >= 0"),
        "has_name": expect("name IS NOT NULL"),
        "small": expect("amount < 500 OR region = 'n'"),
        "ids": unique(["id"]),
        "id_region": unique(["id", "region"]),
        "enough": 0 if 100 <= n <= 1000000 else n,
        "too_many": 0 if n <= 50 else n,
        "avg_ok": 0 if q("SELECT avg(amount) BETWEEN 10 AND 500 FROM t") else n,
        "spread": 0 if q("SELECT max(amount) - min(amount) < 100 AND count(*) > 0 FROM t") else n,
    }
    return n, {k: (n, v, v == 0) for k, v in out.items()}


KINDS = {"positive": ("expect", "reject"), "has_name": ("expect", "warn"),
         "small": ("expect", "warn"), "ids": ("unique", "warn"), "id_region": ("unique", "warn"),
         "enough": ("row_count", "fail"), "too_many": ("row_count", "warn"),
         "avg_ok": ("aggregate", "fail"), "spread": ("aggregate", "warn")}


def check_samples(data, rows):
    """Every sample value really fails its rule (DuckDB says so)."""
    con = duck(data)
    by = {r[0]: json.loads(r[1]) for r in rows}
    for s in by["positive"]:
        assert s["amount"] is None or s["amount"] < 0
    for s in by["has_name"]:
        assert s["name"] is None
    for s in by["ids"]:
        assert con.execute("SELECT count(*) FROM t WHERE id = ?", [s["id"]]).fetchone()[0] == s["rows"] > 1
    assert 0 < len(by["ids"]) <= 5 and 0 < len(by["positive"]) <= 5
    assert by["enough"] == [] and by["avg_ok"] == []
    assert by["too_many"][0]["rows"] > 50
    (spread,) = by["spread"]
    assert spread["max(amount)"] == con.execute("SELECT max(amount) FROM t").fetchone()[0]


def assert_run_matches(data, checks, rejects, loaded, job_ids):
    n, want = expected(data)
    got = {r[0]: (r[1], r[2], bool(r[3])) for r in checks}
    assert got == want
    assert {r[0]: (r[4], r[5]) for r in checks} == KINDS
    assert len(job_ids) == 1
    # rejected rows: the ones DuckDB says fail "positive", as JSON objects
    con = duck(data)
    bad = sorted(con.execute("SELECT id, region, amount, name FROM t WHERE (amount >= 0) IS NOT TRUE").fetchall(),
                 key=repr)
    assert all(r[0] == "q" and r[1] == "positive" for r in rejects)
    raws = sorted((tuple(json.loads(r[2]).values()) for r in rejects), key=repr)
    assert raws == bad
    # the loaded table: every row that passes "positive" (warned rows stay)
    good = sorted(con.execute("SELECT id, region, amount, name FROM t WHERE amount >= 0").fetchall(), key=repr)
    assert sorted(loaded, key=repr) == good
    assert len(good) + len(bad) == n


@pytest.mark.parametrize("executors", [1, 3])
def test_every_rule_matches_duckdb_sqlite(tmp_path, executors):
    data = make_data(tmp_path)
    dag = tmp_path / "q.yaml"
    dag.write_text(dag_text(RULES))
    r = run_cli("run", dag, "--executors", executors, "--param", f"data={data}")
    assert r.returncode == 0, r.stdout + r.stderr
    con = sqlite3.connect(tmp_path / "wh.db")
    checks = con.execute("SELECT rule, rows_checked, rows_failed, passed, kind, action, node "
                         "FROM millrace_checks").fetchall()
    assert all(c[6] == "q" for c in checks) and len(checks) == len(RULES)
    rejects = con.execute("SELECT node, reason, raw FROM millrace_rejects").fetchall()
    loaded = con.execute("SELECT id, region, amount, name FROM sales").fetchall()
    jobs = {x[0] for x in con.execute("SELECT job_id FROM millrace_checks")}
    assert_run_matches(data, checks, rejects, loaded, jobs)
    check_samples(data, con.execute("SELECT rule, sample FROM millrace_checks").fetchall())
    # the run's summary shows every rule
    _, want = expected(data)
    for rule, (chk, failed, ok) in want.items():
        kind, action = KINDS[rule]
        line = f"check q.{rule} ({kind}, {action}): "
        assert line + ("passed" if ok else f"{failed:,} of {chk:,} rows failed") in r.stdout, r.stdout
    # a second run appends one more row per rule, under another job id
    r = run_cli("run", dag, "--executors", executors, "--param", f"data={data}")
    assert r.returncode == 0, r.stderr
    assert con.execute("SELECT count(DISTINCT job_id), count(*) FROM millrace_checks").fetchone() == (2, 2 * len(RULES))


def snapshot_sqlite(db):
    con = sqlite3.connect(db)
    out = {}
    for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"):
        out[t] = sorted(con.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr)
    return out


@pytest.mark.parametrize("rule, message", [
    ('{name: nonneg, expect: "amount >= 0"}',
     r"check 'nonneg' failed: (\d+) of (\d+) rows fail amount >= 0; sample rows: \[\{"),
    ('{name: ids, unique: [id]}', r"check 'ids' failed: (\d+) of (\d+) rows share their key"),
    ('{name: few, row_count: {max: 10}}', r"check 'few' failed: (\d+) rows, at most 10 expected"),
    ('{name: low_avg, aggregate: "avg(amount) < 5"}',
     r"check 'low_avg' failed: avg\(amount\) < 5 is not true over (\d+) rows; aggregates: \[\{\"avg\(amount\)\": "),
])
def test_fail_leaves_warehouse_untouched(tmp_path, rule, message):
    data = make_data(tmp_path, files=2, rows=1500)
    dag = tmp_path / "q.yaml"
    dag.write_text(dag_text(RULES[:2]))
    r = run_cli("run", dag, "--executors", 2, "--param", f"data={data}")
    assert r.returncode == 0, r.stderr
    before = snapshot_sqlite(tmp_path / "wh.db")
    assert len(before["millrace_checks"]) == 2 and before["sales"] and before["millrace_rejects"]
    dag.write_text(dag_text(RULES[:2] + [rule]))
    r = run_cli("run", dag, "--executors", 2, "--param", f"data={data}")
    assert r.returncode == 1, r.stdout + r.stderr
    m = re.search(message, r.stderr)
    assert m, r.stderr
    n, want = expected(data)
    name = re.search(r"name: (\w+)", rule).group(1)
    if name == "nonneg":
        assert int(m.group(1)) == want["positive"][1] and int(m.group(2)) == n
    if name == "ids":
        assert int(m.group(1)) == want["ids"][1] and int(m.group(2)) == n
    if name in ("few", "low_avg"):
        assert int(m.group(1)) == n
    assert snapshot_sqlite(tmp_path / "wh.db") == before


@pytest.fixture(scope="module")
def pg_server():
    with pg.server() as dsn:
        yield dsn


@pytest.fixture
def pg_db(pg_server):
    with pg.database(pg_server) as dsn:
        yield dsn


PG_WAREHOUSE = 'warehouse: {driver: postgres, dsn: "${env:MILLRACE_WAREHOUSE_DSN}"}'


def test_every_rule_on_postgres(tmp_path, pg_db):
    data = make_data(tmp_path, files=2, rows=3000, seed=11)
    dag = tmp_path / "q.yaml"
    dag.write_text(dag_text(RULES, warehouse=PG_WAREHOUSE))
    env = {"MILLRACE_WAREHOUSE_DSN": pg_db}
    r = run_cli("run", dag, "--executors", 3, "--param", f"data={data}", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    checks = pg.query(pg_db, "SELECT rule, rows_checked, rows_failed, passed, kind, action, node "
                             "FROM millrace_checks")
    rejects = pg.query(pg_db, "SELECT node, reason, raw FROM millrace_rejects")
    loaded = pg.query(pg_db, "SELECT id, region, amount, name FROM sales")
    jobs = {x[0] for x in pg.query(pg_db, "SELECT job_id FROM millrace_checks")}
    assert_run_matches(data, checks, rejects, loaded, jobs)
    types = dict(pg.query(pg_db, "SELECT column_name, data_type FROM information_schema.columns "
                                 "WHERE table_name = 'millrace_checks'"))
    assert types["passed"] == "boolean" and types["rows_failed"] == "bigint"
    check_samples(data, pg.query(pg_db, "SELECT rule, sample FROM millrace_checks"))
    # a failing rule: nothing changes, not even millrace_checks
    before = {t: sorted(pg.query(pg_db, f"SELECT * FROM {t}"), key=repr)
              for t in ("sales", "millrace_checks", "millrace_rejects")}
    dag.write_text(dag_text(RULES + ['{name: never, expect: "false"}'], warehouse=PG_WAREHOUSE))
    r = run_cli("run", dag, "--executors", 2, "--param", f"data={data}", env=env)
    assert r.returncode == 1 and "check 'never' failed" in r.stderr, r.stderr
    after = {t: sorted(pg.query(pg_db, f"SELECT * FROM {t}"), key=repr) for t in before}
    assert after == before
    assert pg.query(pg_db, "SELECT count(*) FROM pg_tables WHERE schemaname = 'millrace_staging'")[0][0] == 0


def test_checks_through_the_api(cluster_factory, tmp_path):
    make_data(tmp_path, files=2, rows=1000, seed=3)
    c = cluster_factory(executors=2)
    text = dag_text(RULES).replace("path: wh.db", "path: api.db")
    r = c.post("/v1/jobs", json={"dag": text, "params": {"data": "data"}})
    assert r.status_code == 201, r.text
    job = c.wait_job(r.json()["id"])
    assert job["state"] == "succeeded", job
    n, want = expected(tmp_path / "data")
    got = {x["rule"]: (x["rows_checked"], x["rows_failed"], x["passed"]) for x in job["checks"]}
    assert got == want
    for x in job["checks"]:
        assert x["node"] == "q" and (x["kind"], x["action"]) == KINDS[x["rule"]]
        assert isinstance(x["sample"], list) and len(x["sample"]) <= 5
        assert (x["sample"] == []) == x["passed"]
    # the plan as JSON lists each check operator's rules
    def ops(x):
        if isinstance(x, dict):
            if x.get("kind") == "check":
                yield x
            for v in x.values():
                yield from ops(v)
        elif isinstance(x, list):
            for v in x:
                yield from ops(v)
    plan = c.get(f"/v1/jobs/{job['id']}/plan").json()
    rules = {r["name"]: r for op in ops(plan) for r in op["rules"]}
    assert set(rules) == set(KINDS)
    assert rules["positive"] == {"name": "positive", "kind": "expect", "on_fail": "reject",
                                 "expect": "amount >= 0"}
    assert rules["id_region"]["unique"] == ["id", "region"]
    assert rules["enough"]["min"] == 100 and rules["enough"]["max"] == 1000000
    assert rules["avg_ok"]["aggregate"] == "avg(amount) BETWEEN 10 AND 500"
    assert any(s["operators"][-1] == "check q" for s in job["stages"])
    # a failed job shows its checks and names the rule
    text = dag_text(RULES + ['{name: never, expect: "id < 0"}']).replace("path: wh.db", "path: api.db")
    job = c.wait_job(c.post("/v1/jobs", json={"dag": text, "params": {"data": "data"}}).json()["id"])
    assert job["state"] == "failed" and "check 'never' failed" in job["error"]
    never = [x for x in job["checks"] if x["rule"] == "never"][0]
    assert never["rows_failed"] == never["rows_checked"] == n and not never["passed"]


# (rule, message, where the error points: the first character of this text)
BAD = [
    ('{name: a, expect: "amont > 0"}', "in rule 'a': unknown column 'amont' (did you mean 'amount'?)", "amont"),
    ('{name: b, expect: "amount + 1"}', "rule 'b': expect must be a boolean expression; this one is int64", '"amount'),
    ('{name: c, unique: [idd]}', "unknown column 'idd' in the input of the check (did you mean 'id'?)", "idd"),
    ('{name: d, unique: [id], on_fail: reject}', "rule 'd': on_fail: reject needs rows to reject", "reject"),
    ('{name: e, row_count: {min: 5, max: 2}}', "max (2) is below min (5)", "2}"),
    ('{name: f, row_count: {min: -1}}', "min must be a count", "-1"),
    ('{name: g, aggregate: "avg(amout) > 1"}', "in aggregate 'avg(amout)': unknown column 'amout'", "amout"),
    ('{name: h, aggregate: "avg(amount) + 1"}', "the aggregate rule must be a boolean expression", '"avg'),
    ('{name: i, aggregate: "avg(amount) > 1 AND name = \'x\'"}', "in rule 'i': unknown column 'name'", "name ="),
    ('{name: j, aggregate: "amount > 1"}', "an aggregate rule needs aggregate calls", '"amount'),
    ('{name: k, expct: "id > 0"}', "unknown key 'expct' in a rule (name, on_fail and one kind: expect, unique, row_count or aggregate) (did you mean 'expect'?)", "expct"),
    ('{name: l}', "a rule needs one of expect, unique, row_count or aggregate", "{name"),
    ('{name: m, expect: "id > 0", unique: [id]}', "a rule has one kind: 'expect' and 'unique' are both given", "unique"),
    ('{name: n, expect: "id > 0", on_fail: maybe}', "unknown on_fail 'maybe'", "maybe"),
    ('{name: o, row_count: {min: 1, most: 3}}', "unknown key 'most'", "most"),
]


@pytest.mark.parametrize("rule, message, at", BAD)
def test_bad_rules_at_their_position(tmp_path, rule, message, at):
    make_data(tmp_path, files=1, rows=10)
    dag = tmp_path / "bad.yaml"
    text = dag_text([rule])
    dag.write_text(text)
    r = run_cli("validate", dag)
    assert r.returncode == 2, r.stdout + r.stderr
    lines = text.splitlines()
    line = lines.index(f"      - {rule}") + 1
    column = lines[line - 1].index(at) + 1
    want = f"{dag}:{line}:{column}: error: "
    assert any(l.startswith(want) and message in l for l in r.stderr.splitlines()), r.stderr
    assert len(r.stderr.splitlines()) == 2, r.stderr  # that error and the count


def test_duplicate_rule_names_and_empty_rules(tmp_path):
    make_data(tmp_path, files=1, rows=10)
    dag = tmp_path / "bad.yaml"
    dag.write_text(dag_text(['{name: a, expect: "id > 0"}', '{name: a, unique: [id]}']))
    r = run_cli("validate", dag)
    assert r.returncode == 2 and "two rules are named 'a'" in r.stderr, r.stderr
    text = dag_text(['{name: a, expect: "id > 0"}']).replace(
        "    rules:\n      - {name: a, expect: \"id > 0\"}\n", "    rules: []\n")
    dag.write_text(text)
    r = run_cli("validate", dag)
    assert r.returncode == 2 and "'rules' is empty" in r.stderr, r.stderr


def test_explain_shows_the_check_operators(tmp_path):
    dag = tmp_path / "q.yaml"
    dag.write_text(dag_text(RULES))
    make_data(tmp_path, files=1, rows=10)
    r = run_cli("explain", dag)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "check q (positive: expect amount >= 0 [reject], has_name: expect name IS NOT NULL [warn]" in out
    assert "check q (ids: unique (id) [warn])" in out and "hash(id) into" in out
    assert "check q (id_region: unique (id, region) [warn])" in out
    assert "enough: row_count >= 100 and <= 1000000 [fail]" in out
    assert "final aggregate q -> check q (avg_ok: aggregate avg(amount) BETWEEN 10 AND 500 [fail]" in out


def test_sorted_input_and_two_check_nodes(tmp_path):
    """After a sort (one partition) a unique rule needs no shuffle and the
    write keeps the order; two check nodes each report their rules, in the
    DAG's order."""
    data = make_data(tmp_path, files=2, rows=2000, seed=5)
    text = f"""version: 1
name: sorted
params: {{data: data}}
warehouse: {{driver: sqlite, path: wh.db}}
nodes:
  sales: {{op: read, format: csv, path: "${{data}}/*.csv", schema: {SCHEMA}}}
  first:
    op: check
    input: sales
    rules:
      - {{name: known_region, expect: "region IS NOT NULL", on_fail: reject}}
      - {{name: mean, aggregate: "avg(amount) > 0", on_fail: warn}}
  ordered: {{op: sort, input: first, by: ["amount desc nulls last", id, name]}}
  second:
    op: check
    input: ordered
    rules:
      - {{name: ids, unique: [id], on_fail: warn}}
      - {{name: total, aggregate: "sum(amount) > 0 AND count(DISTINCT region) = 4", on_fail: warn}}
  out: {{op: write, input: second, to: csv, path: out, mode: overwrite}}
"""
    dag = tmp_path / "s.yaml"
    dag.write_text(text)
    r = run_cli("explain", dag, "--executors", 3)
    assert r.returncode == 0, r.stderr
    assert "-> check second (ids: unique (id) [warn])" in r.stdout
    r = run_cli("run", dag, "--executors", 3)
    assert r.returncode == 0, r.stdout + r.stderr
    con = duck(data)
    want = con.execute("SELECT id, region, amount, name FROM t WHERE region IS NOT NULL "
                       "ORDER BY amount DESC NULLS LAST, id, name").fetchall()
    got = duckdb.sql(f"SELECT * FROM read_csv('{tmp_path}/out/part-*.csv', header=true, "
                     "columns={'id': 'BIGINT', 'region': 'VARCHAR', 'amount': 'BIGINT', 'name': 'VARCHAR'})").fetchall()
    assert [g[2] for g in got] == [w[2] for w in want]
    assert sorted(got, key=repr) == sorted(want, key=repr)
    rows = sqlite3.connect(tmp_path / "wh.db").execute(
        "SELECT node, rule, rows_checked, rows_failed, passed FROM millrace_checks").fetchall()
    q = lambda sql: con.execute(sql).fetchone()[0]
    kept = "FROM t WHERE region IS NOT NULL"
    dup = q(f"SELECT coalesce(sum(k), 0) FROM (SELECT count(*) AS k {kept} AND id IS NOT NULL "
            "GROUP BY id HAVING count(*) > 1)")
    n, m = q("SELECT count(*) FROM t"), q(f"SELECT count(*) {kept}")
    total_ok = q(f"SELECT sum(amount) > 0 AND count(DISTINCT region) = 4 {kept}")
    assert rows == [("first", "known_region", n, n - m, n == m),
                    ("first", "mean", n, 0 if q("SELECT avg(amount) > 0 FROM t") else n,
                     bool(q("SELECT avg(amount) > 0 FROM t"))),
                    ("second", "ids", m, dup, dup == 0),
                    ("second", "total", m, 0 if total_ok else m, bool(total_ok))]
    assert "check first.known_region (expect, reject)" in r.stdout
    assert r.stdout.index("check first.mean") < r.stdout.index("check second.ids")


@pytest.mark.parametrize("rules", ["row", "all"])
def test_lost_executor_counts_every_row_once(cluster_factory, tmp_path, rules):
    """An executor killed while the checked rows are on their way: the
    re-run tasks' counts replace the lost ones, none is counted twice."""
    from test_faults import busy_executor, stage, wait_for
    import os
    import signal
    data = make_data(tmp_path, files=3, rows=40000, seed=9)
    os.environ["MILLRACE_TEST_BATCH_DELAY_MS"] = "25"
    # lost after 3 s: long enough that a busy machine does not lose the
    # survivors too (each loss re-runs their work), short for the victim
    try:
        c = cluster_factory(executors=3, extra=("--lost-after-ms", "3000", "--split-bytes",
                                                "200000", "--partitions", "6"))
    finally:
        del os.environ["MILLRACE_TEST_BATCH_DELAY_MS"]
    chosen = RULES if rules == "all" else [x for x in RULES if "aggregate:" not in x]
    r = c.post("/v1/jobs", json={"dag": dag_text(chosen), "params": {"data": "data"}})
    assert r.status_code == 201, r.text
    job_id = r.json()["id"]
    j = wait_for(c, job_id, lambda j: stage(j, 0)["tasks"]["succeeded"] >= 2
                 and stage(j, 0)["state"] == "running")
    victim = busy_executor(c, j)
    c.executors[victim].send_signal(signal.SIGKILL)
    done = c.wait_job(job_id, timeout=240)
    assert done["state"] == "succeeded", done
    assert sum(s["tasks"]["retried"] for s in done["stages"]) >= 1, done
    _, want = expected(data)
    got = {x["rule"]: (x["rows_checked"], x["rows_failed"], x["passed"]) for x in done["checks"]}
    assert got == {k: v for k, v in want.items() if k in got} and len(got) == len(chosen)
    con = sqlite3.connect(tmp_path / "wh.db")
    assert con.execute("SELECT count(*) FROM millrace_rejects").fetchone()[0] == want["positive"][1]
    assert con.execute("SELECT count(*) FROM sales").fetchone()[0] == want["positive"][0] - want["positive"][1]
