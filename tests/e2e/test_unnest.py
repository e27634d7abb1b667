"""The unnest op against PostgreSQL's json_array_elements_text.

Generated JSON arrays full of edge cases (NULL values, empty arrays, JSON
null elements, nested arrays and objects, escapes and non-ASCII text, long
arrays that span several batches) are unnested by a millrace job into a
PostgreSQL warehouse; the same rows, loaded into a table of the same
database, go through `LATERAL json_array_elements_text(j::json)` (a LEFT
JOIN LATERAL for keep_empty).  The two multisets of (id, element) must be
equal.  Bad input (text that is not JSON, a JSON object, an element the
cast refuses) fails the job with the node, the row and the value; DAG
mistakes are reported at file:line:column.
"""
import collections
import decimal
import json
import random

import psycopg
import pytest

import pg
from conftest import run_cli


@pytest.fixture(scope="module")
def pg_server():
    with pg.server() as dsn:
        yield dsn


@pytest.fixture
def db(pg_server):
    with pg.database(pg_server) as dsn:
        yield dsn


def element(rnd, depth=0):
    r = rnd.random()
    if depth > 2 or r < 0.6:
        return rnd.choice([None, True, False, 0, -7, 1.5, 1e21, "", "x", "é\n", "a\"b\\c",
                           "😀", "null", "[1]", 123456789012345678901234])
    if r < 0.8:
        return [element(rnd, depth + 1) for _ in range(rnd.randint(0, 3))]
    return {rnd.choice(["a", "b", "é"]): element(rnd, depth + 1) for _ in range(rnd.randint(0, 3))}


def array_rows():
    rnd = random.Random(1607)
    docs = [None, "[]", " [ ] ", "[null]", "[null, null]", '["a", ["b", {"c": [1, 2]}], {}]',
            "[1, 2.50, -0, 1e-3]", '["\\u00e9\\n\\t\\"", "\\ud83d\\ude00"]',
            json.dumps(list(range(9000)))]
    for _ in range(400):
        v = [element(rnd) for _ in range(rnd.randint(0, 6))]
        seps = rnd.choice([(",", ":"), (", ", ": "), (" , ", " :  ")])
        docs.append(None if rnd.random() < 0.05 else
                    json.dumps(v, ensure_ascii=rnd.random() < 0.5, separators=seps))
    return [{"id": i, "tag": f"t{i % 7}", "j": d} for i, d in enumerate(docs)]


def write_jsonl(path, data):
    with open(path, "w", encoding="utf-8") as f:
        for r in data:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def dag_text(src, wh, extra="", schema="id: int64, tag: string, j: string", typ=None):
    t = f"    type: {typ}\n" if typ else ""
    return (f"version: 1\nname: unnest_test\n{wh}\nnodes:\n"
            f"  src:\n    op: read\n    format: jsonl\n    path: {src}\n"
            f"    schema: {{{schema}}}\n"
            f"  flat:\n    op: unnest\n    input: src\n    column: j\n    as: e\n{t}{extra}"
            "  out:\n    op: write\n    input: flat\n    to: warehouse\n    table: mr_out\n"
            "    mode: overwrite\n")


PG_WH = 'warehouse:\n  driver: postgres\n  dsn: "${env:MILLRACE_WAREHOUSE_DSN}"'


def load_src(dsn, data, jtype="text"):
    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute(f"CREATE TABLE src (id bigint, tag text, j {jtype})")
        with con.cursor().copy("COPY src (id, tag, j) FROM STDIN") as cp:
            for r in data:
                cp.write_row([r["id"], r["tag"], r["j"]])


def run_unnest(tmp_path, dsn, data, extra="", typ=None, executors=2):
    src = tmp_path / "in.jsonl"
    write_jsonl(src, data)
    dag = tmp_path / "u.yaml"
    dag.write_text(dag_text(src, PG_WH, extra, typ=typ), encoding="utf-8")
    return run_cli("run", dag, "--executors", executors, env={"MILLRACE_WAREHOUSE_DSN": dsn})


@pytest.mark.parametrize("keep_empty", [False, True])
def test_unnest_matches_postgres(tmp_path, db, keep_empty):
    data = array_rows()
    r = run_unnest(tmp_path, db, data, "    keep_empty: true\n" if keep_empty else "")
    assert r.returncode == 0, r.stdout + r.stderr
    load_src(db, data)
    join = "LEFT JOIN LATERAL" if keep_empty else "CROSS JOIN LATERAL"
    on = " ON true" if keep_empty else ""
    want = pg.query(db, f"SELECT id, tag, e FROM src {join} "
                        f"json_array_elements_text(j::json) AS e{on}")
    got = pg.query(db, "SELECT id, tag, e FROM mr_out")
    assert [c for c in pg.query(db, "SELECT column_name FROM information_schema.columns "
                                    "WHERE table_name = 'mr_out' ORDER BY ordinal_position")] \
        == [("id",), ("tag",), ("e",)]
    assert len(want) > 10000  # the long array spans batches
    assert collections.Counter(got) == collections.Counter(want)
    if keep_empty:
        assert (0, "t0", None) in got and (1, "t1", None) in got and (2, "t2", None) in got


NUMS = [None, "[1, 2, -3, null]", "[]", "[9223372036854775807]", '["12", " 7 "]',
        "[0, -0, 100000]"]
DECS = [None, "[1.005, 2.5, -3.335, null]", "[]", "[12345678.99, 0.001]", '["1.2", "-0.5"]',
        "[1e2, 7]"]
DATES = [None, '["2024-02-29", null, "1999-12-31"]', "[]", '["0001-01-01"]']


@pytest.mark.parametrize("typ, pgtype, docs", [
    ("int64", "bigint", NUMS), ("\"decimal(10,2)\"", "numeric(10,2)", DECS),
    ("date", "date", DATES), ("float64", "double precision", NUMS + DECS[1:])])
def test_unnest_casts_elements_as_postgres(tmp_path, db, typ, pgtype, docs):
    data = [{"id": i, "tag": "t", "j": d} for i, d in enumerate(docs)]
    r = run_unnest(tmp_path, db, data, typ=typ)
    assert r.returncode == 0, r.stdout + r.stderr
    load_src(db, data)
    want = pg.query(db, f"SELECT id, e::{pgtype} FROM src, json_array_elements_text(j::json) e")
    got = pg.query(db, "SELECT id, e FROM mr_out")
    assert collections.Counter(got) == collections.Counter(want)
    if pgtype.startswith("numeric"):
        assert all(isinstance(v, (decimal.Decimal, type(None))) for _, v in got)


@pytest.mark.parametrize("doc, typ, message", [
    ('{"a": [1]}', None, "is not a JSON array"),
    ("7", None, "is not a JSON array"),
    ("[1, 2", None, "is not valid JSON"),
    ("[1, 2,]", None, "is not valid JSON"),
    ("['a']", None, "is not valid JSON"),
    ('[1, "x", 3]', "int64", "element 2"),
    ("[1, 2.5]", "int64", "2.5"),
    ("[[1], 2]", "int64", "[1]"),
    ('["2024-02-30"]', "date", "2024-02-30"),
])
def test_bad_input_names_node_row_and_value(tmp_path, db, doc, typ, message):
    data = [{"id": 0, "tag": "a", "j": None}, {"id": 1, "tag": "b", "j": "[]"},
            {"id": 2, "tag": "c", "j": doc}]
    r = run_unnest(tmp_path, db, data, typ=typ, executors=1)
    assert r.returncode != 0, r.stdout
    err = r.stdout + r.stderr
    assert "node 'flat'" in err and "row 3" in err and message in err, err


def test_json_null_is_a_null_array(tmp_path, db):
    data = [{"id": 0, "tag": "a", "j": "null"}, {"id": 1, "tag": "b", "j": " null "},
            {"id": 2, "tag": "c", "j": "[null]"}]
    r = run_unnest(tmp_path, db, data, "    keep_empty: true\n")
    assert r.returncode == 0, r.stdout + r.stderr
    assert sorted(pg.query(db, "SELECT id, e FROM mr_out")) == [(0, None), (1, None), (2, None)]


BAD_DAGS = [
    ("    column: j\n", "    column: jj\n", "jj", "unknown column 'jj'"),
    ("    column: j\n", "    column: id\n", "id", "unnest reads JSON arrays from text"),
    ("    as: e\n", "    as: tag\n", "tag", "'tag' is already a column"),
    ("    as: e\n", "    as: e\n    type: decimal(40,2)\n", "decimal(40,2)", "type:"),
    ("    as: e\n", "    as: e\n    type: intger\n", "intger", "type:"),
    ("    as: e\n", "    as: e\n    keep_empty: maybe\n", "maybe", "keep_empty"),
    ("    as: e\n", "    as: e\n    colum: j\n", "colum", "colum"),
]


@pytest.mark.parametrize("old, new, at, message", BAD_DAGS)
def test_dag_mistakes_at_their_position(tmp_path, old, new, at, message):
    src = tmp_path / "in.jsonl"
    write_jsonl(src, [{"id": 1, "tag": "a", "j": "[1]"}])
    text = dag_text(src, "warehouse: {driver: sqlite, path: wh.db}")
    flat = text.index("  flat:")
    text = text[:flat] + text[flat:].replace(old, new, 1)
    dag = tmp_path / "bad.yaml"
    dag.write_text(text)
    r = run_cli("validate", dag)
    assert r.returncode == 2, r.stdout + r.stderr
    lines = text.splitlines()
    line = next(i for i, l in enumerate(lines) if i > text[:flat].count("\n") and
                l.startswith("    ") and at in l and l.strip().split(":")[0] in new) + 1
    column = lines[line - 1].index(at) + 1
    want = f"{dag}:{line}:{column}: error: "
    assert any(l.startswith(want) and message in l for l in r.stderr.splitlines()), r.stderr


def test_explain_shows_the_unnest(tmp_path):
    src = tmp_path / "in.jsonl"
    write_jsonl(src, [{"id": 1, "tag": "a", "j": "[1]"}])
    dag = tmp_path / "u.yaml"
    dag.write_text(dag_text(src, "warehouse: {driver: sqlite, path: wh.db}",
                            "    keep_empty: true\n", typ="int32"))
    r = run_cli("explain", dag)
    assert r.returncode == 0, r.stderr
    assert "unnest flat (j as e int32, keep empty)" in r.stdout, r.stdout


def test_as_may_reuse_the_column_name_over_several_files(tmp_path):
    import sqlite3
    folder = tmp_path / "in"
    folder.mkdir()
    want = collections.Counter()
    for f in range(3):
        data = [{"id": f * 100 + i, "tag": "x", "j": json.dumps(list(range(i % 5)))}
                for i in range(100)]
        write_jsonl(folder / f"p{f}.jsonl", data)
        for r in data:
            want.update((r["id"], e) for e in json.loads(r["j"]))
    text = dag_text(f"{folder}/*.jsonl", f"warehouse: {{driver: sqlite, path: {tmp_path}/wh.db}}",
                    typ="int32").replace("    as: e\n", "    as: j\n")
    dag = tmp_path / "u.yaml"
    dag.write_text(text)
    r = run_cli("run", dag, "--executors", 3)
    assert r.returncode == 0, r.stdout + r.stderr
    con = sqlite3.connect(tmp_path / "wh.db")
    got = collections.Counter(con.execute("SELECT id, j FROM mr_out").fetchall())
    assert [c[1] for c in con.execute("PRAGMA table_info(mr_out)")] == ["id", "tag", "j"]
    con.close()
    assert got == want and sum(want.values()) == 600
