"""The flagship example, dags/tickit.yaml: all seven TICKIT tables typed
and loaded, sales joined to events and categories, and the two questions
answered in post_sql; every table and answer checked against DuckDB over
the same files."""
import decimal
import sqlite3

import duckdb
import pytest

from conftest import ROOT, run_cli

DAG = ROOT / "dags" / "tickit.yaml"
SALES = ("salesid INTEGER, listid INTEGER, sellerid INTEGER, buyerid INTEGER, eventid INTEGER, "
         "dateid INTEGER, qtysold INTEGER, pricepaid DECIMAL(8,2), commission DECIMAL(8,2), "
         "saletime TIMESTAMP")
EVENT = "eventid INTEGER, venueid INTEGER, catid INTEGER, dateid INTEGER, eventname VARCHAR, starttime TIMESTAMP"
CATEGORY = "catid INTEGER, catgroup VARCHAR, catname VARCHAR, catdesc VARCHAR"


def duck(data):
    con = duckdb.connect()

    def table(name, file, cols):
        spec = ", ".join(f"'{c.split()[0]}': '{' '.join(c.split()[1:])}'" for c in cols.split(", "))
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_csv('{data / file}', delim='|', "
                    f"header=false, columns={{{spec}}})")
    table("sales", "sales_pipe.txt", SALES)
    table("event", "allevents_pipe.txt", EVENT)
    table("category", "category_pipe.txt", CATEGORY)
    return con


@pytest.fixture(scope="module")
def run(tickit_data, tmp_path_factory):
    db = tmp_path_factory.mktemp("tickit_full") / "wh.db"
    r = run_cli("run", DAG, "--param", f"data={tickit_data}", "--param", f"warehouse={db}")
    assert r.returncode == 0, r.stdout + r.stderr
    return db, r


def lines(path):
    return sum(1 for _ in open(path, encoding="utf-8"))


def test_every_table_loaded(run, tickit_data):
    db, r = run
    con = sqlite3.connect(db)
    for table, file in [("users", "allusers_pipe.txt"), ("venue", "venue_pipe.txt"),
                        ("category", "category_pipe.txt"), ("date", "date2008_pipe.txt"),
                        ("event", "allevents_pipe.txt")]:
        assert con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] == lines(tickit_data / file)
    paid = duck(tickit_data).execute(
        "SELECT count(*) FROM sales WHERE pricepaid > 0 AND qtysold > 0").fetchone()[0]
    assert con.execute("SELECT count(*) FROM sales").fetchone()[0] == paid
    # cleaning: names joined, e-mails lower case, zero seats are NULL
    assert con.execute("SELECT count(*) FROM users WHERE fullname <> firstname || ' ' || lastname").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM users WHERE email <> lower(email)").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM venue WHERE venueseats = 0").fetchone()[0] == 0
    assert "load_genres" in r.stdout and "genre_sales" in r.stdout


def test_genre_sales_match_duckdb(run, tickit_data):
    db, _ = run
    want = duck(tickit_data).execute(
        "SELECT c.catgroup, c.catname, sum(s.qtysold), sum(s.pricepaid), count(DISTINCT s.eventid) "
        "FROM sales s JOIN event e ON s.eventid = e.eventid JOIN category c ON e.catid = c.catid "
        "WHERE s.pricepaid > 0 AND s.qtysold > 0 GROUP BY 1, 2").fetchall()
    con = sqlite3.connect(db)
    got = con.execute("SELECT catgroup, catname, tickets, revenue, events FROM genre_sales").fetchall()
    norm = lambda rows: sorted((a, b, int(t), decimal.Decimal(str(r)), int(e)) for a, b, t, r, e in rows)
    assert norm(got) == norm(want)
    top = con.execute("SELECT genre, tickets FROM top_genres").fetchall()
    best = sorted(want, key=lambda x: (-x[2], x[1]))[:5]
    assert top == [(x[1], x[2]) for x in best]


def test_top_buyers_match_duckdb(run, tickit_data):
    db, _ = run
    want = duck(tickit_data).execute(
        "SELECT buyerid, sum(qtysold) AS t FROM sales WHERE pricepaid > 0 AND qtysold > 0 "
        "GROUP BY 1 ORDER BY t DESC, buyerid LIMIT 10").fetchall()
    con = sqlite3.connect(db)
    got = con.execute("SELECT buyerid, tickets, fullname FROM top_buyers").fetchall()
    assert [(b, t) for b, t, _ in got] == [(b, int(t)) for b, t in want]
    assert all(name and " " in name for _, _, name in got)
