"""Text functions against a real PostgreSQL: regular expressions, JSON
functions and the string functions, compared row by row.

Generated rows full of edge cases (NULLs, empty strings, non-ASCII letters
whose case differs, multi-byte characters, newlines, regex metacharacters)
are read by a millrace job that computes every expression below and writes
the results into a PostgreSQL warehouse; the same rows, loaded into a table
of the same database, go through the same expressions in SQL.  Each
function's column must agree on every row.

PostgreSQL's json functions raise an error on text that is not JSON (and
json_array_length on JSON that is not an array), where millrace gives NULL
as its spec says; the SQL side wraps the cast in a function that turns
that error into NULL.

The database is made with the C.UTF-8 locale, since millrace's text
functions behave as PostgreSQL's with a UTF-8 locale (the test server's
default is C, under which `'É' ~* 'é'` is false).  The patterns avoid the
documented departures (alternatives where PCRE2 takes the first match and
PostgreSQL the longest; \\d on non-ASCII digits).
"""
import json
import random
import uuid

import psycopg
import pytest

import pg
from conftest import run_cli

# name: (millrace expression, PostgreSQL expression or None when the same)
REGEX = {
    "m_vowel": ("s ~ '[aeiouéè]'", None),
    "m_ci": ("s ~* 'é'", None),
    "m_not": ("s !~ '^a'", None),
    "m_not_ci": ("s !~* 'ß|ÉC'", None),
    "m_word": ("s ~ '^\\w+$'", None),
    "m_dot_nl": ("s ~ 'a.b'", None),
    "m_end": ("s ~ 'b$'", None),
    "m_alpha": ("s ~ '^[[:alpha:]]{3}'", None),
    "m_meta": ("s ~ 'a\\.b\\*'", None),
    "r_first": ("regexp_replace(s, '[aé]', '#')", None),
    "r_all": ("regexp_replace(s, '[aé]', '#', 'g')", None),
    "r_ci": ("regexp_replace(s, 'É|a', '<\\&>', 'gi')", None),
    "r_groups": ("regexp_replace(s, '(\\w)(\\w)', '\\2\\1', 'g')", None),
    "r_empty": ("regexp_replace(s, 'x*', '-', 'g')", None),
    "r_missing": ("regexp_replace(s, '(z)?(b)', '[\\1|\\2|\\3|\\\\|\\q]')", None),
    "r_multi": ("regexp_replace(s, '[^a-z]+', '_', 'g')", None),
    "r_emoji": ("regexp_replace(s, '😀', 'E', 'g')", None),
    "sub_1": ("regexp_substr(s, '\\w+')", None),
    "sub_2": ("regexp_substr(s, '\\w', 1, 2)", None),
    "sub_start": ("regexp_substr(s, '.', 3)", None),
    "sub_start_n": ("regexp_substr(s, 'a|b', 2, 2)", None),
    "sub_empty": ("regexp_substr(s, 'b*', 1, 3)", None),
    "sub_anchor": ("regexp_substr(s, '^.', 2)", None),
    "sub_col": ("regexp_substr(s, '.', k)", None),
    "cnt_any": ("regexp_count(s, '.')", None),
    "cnt_vowel": ("regexp_count(s, '[aeiouéÉ]')", None),
    "cnt_empty": ("regexp_count(s, 'b*')", None),
    "cnt_start": ("regexp_count(s, 'a', 3)", None),
    "cnt_col": ("regexp_count(s, '\\w', k)", None),
}

# The PostgreSQL side reads the text through try_json (see above).
JSON = {
    "j_a": ("json_extract_path_text(j, 'a')", "json_extract_path_text(try_json(j), 'a')"),
    "j_ab": ("json_extract_path_text(j, 'a', 'b')",
             "json_extract_path_text(try_json(j), 'a', 'b')"),
    "j_arr0": ("json_extract_path_text(j, 'arr', '0')",
               "json_extract_path_text(try_json(j), 'arr', '0')"),
    # PostgreSQL 15 turns a negative index into a positive one at the first
    # array of that level, on the path or not ({"a": [1, 2], "arr": [3]}
    # gives NULL for arr, -1); its intended result is that of the array alone
    "j_arr_last": ("json_extract_path_text(j, 'arr', '-1')",
                   "json_extract_path_text(try_json(j) -> 'arr', '-1')"),
    "j_arr_x": ("json_extract_path_text(j, 'arr', '1', 'x')",
                "json_extract_path_text(try_json(j), 'arr', '1', 'x')"),
    "j_arr_blank": ("json_extract_path_text(j, 'arr', ' 1')",
                    "json_extract_path_text(try_json(j), 'arr', ' 1')"),
    "j_top": ("json_extract_path_text(j, '0')", "json_extract_path_text(try_json(j), '0')"),
    "j_col": ("json_extract_path_text(j, p)", "json_extract_path_text(try_json(j), p)"),
    "j_col2": ("json_extract_path_text(j, p, 'b')",
               "json_extract_path_text(try_json(j), p, 'b')"),
    "j_len": ("json_array_length(j)",
              "CASE json_typeof(try_json(j)) WHEN 'array' THEN json_array_length(j::json) END"),
    "j_len_arr": ("json_array_length(json_extract_path_text(j, 'arr'))",
                  "CASE json_typeof(try_json(j) -> 'arr') WHEN 'array' "
                  "THEN json_array_length(j::json -> 'arr') END"),
    "j_type": ("json_typeof(j)", "json_typeof(try_json(j))"),
    "j_type_a": ("json_typeof(json_extract_path_text(j, 'a'))",
                 "json_typeof(try_json(json_extract_path_text(try_json(j), 'a')))"),
}
TEXT = {
    "t_lpad": ("lpad(s, k + 3, 'xé')", None),
    "t_lpad_cut": ("lpad(s, k)", None),
    "t_lpad_neg": ("lpad(s, k - 3, '*')", None),
    "t_rpad": ("rpad(s, 2 * k, '日x')", None),
    "t_rpad_empty": ("rpad(s, 8, '')", None),
    "t_left": ("left(s, k)", None),
    "t_left_neg": ("left(s, -k)", None),
    "t_right": ("right(s, k)", None),
    "t_right_neg": ("right(s, -k)", None),
    "t_strpos": ("strpos(s, 'a')", None),
    "t_strpos_u": ("strpos(s, 'é')", None),
    "t_strpos_empty": ("strpos(s, '')", None),
    "t_initcap": ("initcap(s)", None),
    "t_reverse": ("reverse(s)", None),
    "t_repeat": ("repeat(s, k - 2)", None),
    "t_starts": ("starts_with(s, 'a')", None),
    "t_starts_u": ("starts_with(s, 'É')", None),
    "t_sha256": ("sha256(s)", "encode(sha256(convert_to(s, 'UTF8')), 'hex')"),
    "t_upper": ("upper(s)", None),
    "t_lower": ("lower(s)", None),
    "t_ilike": ("s ILIKE '%é%'", None),
    "t_ilike_start": ("s ILIKE 'a%'", None),
    "t_ilike_one": ("s ILIKE '_b%'", None),
    "t_not_ilike": ("s NOT ILIKE '%ss%'", None),
    "t_ilike_u": ("s ILIKE '%ё%ж%'", None),
    "t_concat_bool": ("concat(s, s ~ 'a', k > 2, true)", None),
}
JSON_FIXED = ['{"a": 1}', '{"a": {"b": "x"}}', '{"a" :  {"b" : [1, 2.50]}, "z": 1}',
              '{"a": "caf\\u00e9 \\n \\"q\\""}', '{"a": 1, "a": 2}', '{"a": {"b": 1}, "a": 3}',
              '{"a": null}', '{"a": true, "arr": [false, {"x": -0}]}', '[1, 2, 3]', '[]', '{}',
              '"s"', '1.10', '-0', '1e5', 'null', 'true', '12345678901234567890',
              '{"arr": [1, {"x": 12345678901234567890}, "é"]}', '{"arr": []}', '{"a": [[[[1]]]]}',
              '{"日本": {"b": "語"}, "a": "😀"}', '  {"a": 1}  ', '{"a":1,"arr":[1e-3,2E+2]}',
              # not JSON
              '', '   ', '{"a": 1', "{'a': 1}", '[1, 2,]', '{"a": 1,}', 'NaN', 'Infinity',
              '01', '1.', '{"a": 01}', '{"a": 1} x', '[1] [2]', 'nul', '{"a": "\t"}'.replace(
                  "\\t", "\t"), '{"a": .5}', '{a: 1}', '{"a": "x}', '/* c */ 1', '+1']
JSON_KEYS = ["a", "b", "arr", "x", "é", "0", "-1", "1"]


def json_value(rnd, depth):
    r = rnd.random()
    if depth > 3 or r < 0.4:
        return rnd.choice([None, True, False, 0, -7, 1.5, 2.50, 1e21, -0.0, "", "x", "é\n",
                           "a\"b", "😀", 123456789012345678901234])
    if r < 0.7:
        return [json_value(rnd, depth + 1) for _ in range(rnd.randint(0, 4))]
    return {rnd.choice(JSON_KEYS): json_value(rnd, depth + 1) for _ in range(rnd.randint(0, 4))}


def json_rows():
    rnd = random.Random(1616)
    docs = JSON_FIXED + [None, None]
    for _ in range(300):
        v = json_value(rnd, 0)
        seps = rnd.choice([(",", ":"), (", ", ": "), (" , ", " :  ")])
        text = json.dumps(v, ensure_ascii=rnd.random() < 0.5, separators=seps)
        if rnd.random() < 0.1:  # broken: cut short
            text = text[:rnd.randint(0, max(0, len(text) - 1))]
        docs.append(text)
    out = []
    for i, d in enumerate(docs):
        p = None if rnd.random() < 0.05 else rnd.choice(JSON_KEYS + [" 1", "-2", "9", "1x", ""])
        out.append({"id": i, "j": d, "p": p})
    return out


FIXED = ["", "abc", "Été", "ÉCOLE école", "a\nb", "ab\n", "straße STRASSE", "日本語テキスト",
         "ΣΑΣ σας", "😀x😀", "a.b*c", "a\\b", "   ", "aaa", "banana", "xxx", "a b", "b",
         "ÀÉÎÕÜ àéîõü", "ǅungla", "Ωmega", "a\u0301", "x\ty", "ab", "ba", "zb",
         "İSTANBUL ıi", "\u212a ſ ɐ ꭓ", "ЁЖИК ёж", "Ա ա"]
ALPHABET = ["a", "b", "c", "A", "B", "é", "É", "ß", "日", "\n", " ", ".", "*", "😀", "x", "z",
            "_", "1", "ё", "Ж"]


def rows():
    rnd = random.Random(16)
    out = []
    for i, s in enumerate(FIXED + [None, None]):
        out.append({"id": i, "s": s, "k": 1 + i % 4})
    for i in range(len(out), 400):
        s = None if rnd.random() < 0.08 else "".join(
            rnd.choice(ALPHABET) for _ in range(rnd.randint(0, 12)))
        k = None if rnd.random() < 0.05 else rnd.randint(1, 6)
        out.append({"id": i, "s": s, "k": k})
    return out


@pytest.fixture(scope="module")
def pg_server():
    with pg.server() as dsn:
        yield dsn


@pytest.fixture
def utf8_db(pg_server):
    """A fresh database with a UTF-8 character type (C.UTF-8)."""
    name = "e2e_text_" + uuid.uuid4().hex[:12]
    with psycopg.connect(pg_server, autocommit=True) as con:
        con.execute(f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8' "
                    "LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8'")
    try:
        yield f"{pg_server} dbname={name}"
    finally:
        with psycopg.connect(pg_server, autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def yaml_str(text):
    """text as a YAML double-quoted scalar."""
    return json.dumps(text, ensure_ascii=False)


TRY_JSON = """CREATE FUNCTION try_json(t text) RETURNS json LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN RETURN t::json; EXCEPTION WHEN others THEN RETURN NULL; END $$"""


def compare(tmp_path, dsn, data, schema, funcs, executors=2):
    """Runs funcs over data in millrace and in PostgreSQL; returns the
    mismatches as {name: [(id, input, millrace, postgres), ...]}."""
    src = tmp_path / "in.jsonl"
    with open(src, "w", encoding="utf-8") as f:
        for r in data:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    cols = "".join(f"      {n}: {yaml_str(e)}\n" for n, (e, _) in funcs.items())
    sch = "".join(f"      {c}: {t}\n" for c, (t, _) in schema.items())
    dag = tmp_path / "text.yaml"
    dag.write_text(
        "version: 1\nname: text_functions\n"
        'warehouse:\n  driver: postgres\n  dsn: "${env:MILLRACE_WAREHOUSE_DSN}"\n'
        f"nodes:\n  src:\n    op: read\n    format: jsonl\n    path: {src}\n    schema:\n{sch}"
        f"  calc:\n    op: select\n    input: src\n    columns:\n      id: id\n{cols}"
        "  out:\n    op: write\n    input: calc\n    to: warehouse\n    table: mr_out\n"
        "    mode: overwrite\n", encoding="utf-8")
    r = run_cli("run", dag, "--executors", executors, env={"MILLRACE_WAREHOUSE_DSN": dsn})
    assert r.returncode == 0, r.stdout + r.stderr
    names = list(schema)
    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute(TRY_JSON)
        con.execute("CREATE TABLE src (" + ", ".join(
            f"{c} {pgt}" for c, (_, pgt) in schema.items()) + ")")
        with con.cursor().copy(f"COPY src ({', '.join(names)}) FROM STDIN") as cp:
            for row in data:
                cp.write_row([row[c] for c in names])
        sel = ", ".join(f"{p or e} AS {n}" for n, (e, p) in funcs.items())
        want = {r[0]: r[1:] for r in con.execute(f"SELECT id, {sel} FROM src").fetchall()}
        got = {r[0]: r[1:] for r in con.execute(
            f"SELECT id, {', '.join(funcs)} FROM mr_out").fetchall()}
    assert sorted(got) == sorted(want) == [r["id"] for r in data]
    bad = {}
    for k, name in enumerate(funcs):
        for i in sorted(want):
            if got[i][k] != want[i][k]:
                bad.setdefault(name, []).append((i, data[i], got[i][k], want[i][k]))
    return bad


def test_regular_expressions_match_postgres(tmp_path, utf8_db):
    data = rows()
    bad = compare(tmp_path, utf8_db, data, {"id": ("int64", "bigint"), "s": ("string", "text"),
                                            "k": ("int32", "integer")}, REGEX)
    assert not bad, "\n".join(f"{n}: {len(v)} rows differ, first {v[:3]}" for n, v in bad.items())


def test_json_functions_match_postgres(tmp_path, utf8_db):
    data = json_rows()
    funcs = JSON
    bad = compare(tmp_path, utf8_db, data, {"id": ("int64", "bigint"), "j": ("string", "text"),
                                            "p": ("string", "text")}, funcs)
    assert not bad, "\n".join(f"{n}: {len(v)} rows differ, first {v[:3]}" for n, v in bad.items())


def test_string_functions_match_postgres(tmp_path, utf8_db):
    data = rows()
    bad = compare(tmp_path, utf8_db, data, {"id": ("int64", "bigint"), "s": ("string", "text"),
                                            "k": ("int32", "integer")}, TEXT)
    assert not bad, "\n".join(f"{n}: {len(v)} rows differ, first {v[:3]}" for n, v in bad.items())
