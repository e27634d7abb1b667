"""The coordinator's web UI (/ui/) in a real browser: headless Chromium
driven by Selenium against a live coordinator and executors running real
jobs (TICKIT, a failing load), with the token.  What the page shows is
compared with what the REST API answers.

Screenshots of the pages go to $MILLRACE_UI_SCREENSHOTS when set
(docs/ui/*.png were made so, then shrunk with pngquant)."""
import os
import re
import shutil
import time
from pathlib import Path

import pytest
import requests
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from conftest import ROOT, Cluster
from test_api_full import TINY_DAG, write_tiny_data

TOKEN = "ui-test-token-7f3a"
TICKIT = (ROOT / "dags" / "tickit.yaml").read_text()
SHOTS = os.environ.get("MILLRACE_UI_SCREENSHOTS")


def chromium():
    """Headless Chromium; missing browser or driver fails (setup installs them)."""
    browser = shutil.which("chromium")
    driver = shutil.which("chromedriver")
    if not browser or not driver:
        pytest.fail("chromium and chromium-driver are needed: run scripts/setup.sh")
    o = Options()
    o.binary_location = browser
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1280,900"):
        o.add_argument(a)
    o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=o)


@pytest.fixture(scope="module")
def browser():
    d = chromium()
    yield d
    d.quit()


def stage_tickit(root, tickit_data):
    d = root / "data"
    d.mkdir(exist_ok=True)
    for f in tickit_data.iterdir():
        shutil.copy(f, d / f.name)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, tickit_data):
    root = tmp_path_factory.mktemp("ui")
    stage_tickit(root, tickit_data)
    write_tiny_data(root)
    c = Cluster(root, executors=2, token=TOKEN)
    yield c
    c.stop()


def submit(c, dag, **params):
    r = c.post("/v1/jobs", json={"dag": dag, "params": params})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def fmt_bytes(n):
    """The page's byte format, written again."""
    units, i, v = ["B", "KiB", "MiB", "GiB", "TiB"], 0, float(n)
    while v >= 1024 and i < len(units) - 1:
        v, i = v / 1024, i + 1
    return (f"{v:.1f}" if i else str(int(v))) + " " + units[i]


def wait(d, cond, timeout=30):
    return WebDriverWait(d, timeout, poll_frequency=0.05).until(lambda _: cond())


def shot(d, name):
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        d.save_screenshot(str(Path(SHOTS) / f"{name}.png"))


def no_console_errors(d):
    """No script error and no Content-Security-Policy violation (the 401s
    that ask for the token, and the 404 of a coordinator without schedules,
    are expected)."""
    expected = ("status of 401", "/v1/schedules - Failed to load resource: the server responded "
                "with a status of 404")
    bad = [e for e in d.get_log("browser") if e["level"] == "SEVERE" and
           not (e["source"] == "network" and any(x in e["message"] for x in expected))]
    assert not bad, bad


def sign_in(d, c, token=TOKEN):
    d.get(c.url + "/ui/")
    d.execute_script("sessionStorage.clear()")
    d.get(c.url + "/ui/#/jobs")
    form = d.find_element(By.ID, "login")
    wait(d, form.is_displayed)
    d.find_element(By.ID, "token").send_keys(token)
    d.find_element(By.ID, "login-go").click()


def test_assets_are_public_with_strict_headers(cluster):
    for path, ctype in (("/ui/", "text/html"), ("/ui/ui.js", "text/javascript"),
                        ("/ui/ui.css", "text/css")):
        r = requests.get(cluster.url + path, timeout=10)  # no token: the files hold no data
        assert r.status_code == 200 and r.headers["Content-Type"].startswith(ctype)
        csp = r.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp and "unsafe" not in csp
        assert r.headers["X-Content-Type-Options"] == "nosniff"
    html = requests.get(cluster.url + "/ui/", timeout=10).text
    assert "<script src=\"ui.js\"" in html and not re.search(r"<script>|<style|\sstyle=|\son\w+=", html)
    r = requests.get(cluster.url + "/ui", timeout=10, allow_redirects=False)
    assert r.status_code == 301 and r.headers["Location"] == "/ui/"
    assert requests.get(cluster.url + "/ui/nothing.js", timeout=10).status_code == 404
    assert requests.post(cluster.url + "/ui/", timeout=10).status_code == 405
    # the data behind the page still needs the token
    assert requests.get(cluster.url + "/v1/jobs", timeout=10).status_code == 401


def test_wrong_token_is_refused(browser, cluster):
    sign_in(browser, cluster, token="not-the-token")
    err = browser.find_element(By.ID, "login-error")
    wait(browser, lambda: "refused" in err.text)
    assert browser.find_element(By.ID, "login").is_displayed()
    assert not browser.find_elements(By.ID, "jobs") and not browser.find_elements(By.ID, "jobs-empty")
    shot(browser, "token")
    # the right one opens the page, and is kept for the tab only
    browser.find_element(By.ID, "token").send_keys(TOKEN)
    browser.find_element(By.ID, "login-go").click()
    wait(browser, lambda: browser.find_elements(By.ID, "jobs") or browser.find_elements(By.ID, "jobs-empty"))
    assert browser.execute_script("return sessionStorage.getItem('millrace.token')") == TOKEN
    assert browser.execute_script("return localStorage.length") == 0


def test_tickit_job_list_and_stage_graph(browser, cluster):
    job_id = submit(cluster, TICKIT, data="data", warehouse="wh.db")
    done = cluster.wait_job(job_id)
    assert done["state"] == "succeeded", done
    plan = cluster.get(f"/v1/jobs/{job_id}/plan").json()
    sign_in(browser, cluster)
    row = f"tr.job-row[data-id='{job_id}']"
    wait(browser, lambda: browser.find_elements(By.CSS_SELECTOR, row))
    cells = browser.find_element(By.CSS_SELECTOR, row).find_elements(By.TAG_NAME, "td")
    assert cells[1].text == "tickit" and cells[2].text == "succeeded"
    assert re.fullmatch(r"[\d.]+ (ms|s)|\d+ min \d+ s", cells[4].text), cells[4].text
    shot(browser, "jobs")
    browser.find_element(By.CSS_SELECTOR, row + " a").click()
    wait(browser, lambda: browser.find_elements(By.CSS_SELECTOR, "#stage-graph g.stage"))
    nodes = browser.find_elements(By.CSS_SELECTOR, "#stage-graph g.stage")
    assert len(nodes) == len(done["stages"]) == len(plan["stages"]) > 3
    assert len(browser.find_elements(By.CSS_SELECTOR, "#stage-graph path.edge")) == \
        sum(len(s["inputs"]) for s in plan["stages"])
    by_id = {int(n.get_attribute("data-stage")): n for n in nodes}
    for s in plan["stages"]:
        text = by_id[s["id"]].text
        assert f"stage {s['id']}" in text and "succeeded" in text
        for op in s["operators"][:8]:
            assert f"{op['kind']} {op['node']}" in text
        t = next(x for x in done["stages"] if x["id"] == s["id"])["tasks"]
        assert f"tasks {t['succeeded']}/{t['total']}" in text
    # a layered layout: every edge runs left to right
    x = {i: n.rect["x"] for i, n in by_id.items()}
    for s in plan["stages"]:
        for i in s["inputs"]:
            assert x[i] < x[s["id"]]
    # each shuffle is labelled at its sending stage with the bytes it sent
    labels = {int(t.get_attribute("data-stage")): t.text for t in
              browser.find_elements(By.CSS_SELECTOR, "#stage-graph text.edge-label")}
    assert set(labels) == {s["id"] for s in plan["stages"] if s["shuffle"]}
    for s in done["stages"]:
        if s["id"] in labels:
            assert labels[s["id"]].endswith(" · " + fmt_bytes(s["bytes_shuffled"])), labels[s["id"]]
    rows = browser.find_elements(By.CSS_SELECTOR, "#stages tr.stage-row")
    assert len(rows) == len(done["stages"])
    for r, s in zip(rows, done["stages"]):
        assert f"{s['rows_out']:,}" in r.text
    outs = browser.find_element(By.ID, "outputs").text
    for o in done["outputs"]:
        assert o["node"] in outs and f"{o['rows']:,}" in outs
    shot(browser, "job")
    no_console_errors(browser)


def test_failed_job_shows_error_with_position(browser, cluster):
    job_id = submit(cluster, TINY_DAG, input="bad.csv", warehouse="bad.db")
    done = cluster.wait_job(job_id)
    assert done["state"] == "failed"
    # a data error names the file, the line and the column
    assert re.search(r"/bad\.csv:3: column 'v': invalid int64 'notanumber'", done["error"]), done["error"]
    browser.get(cluster.url + f"/ui/#/job/{job_id}")
    err = wait(browser, lambda: browser.find_elements(By.ID, "job-error"))[0]
    assert err.text == done["error"]
    where = browser.find_element(By.ID, "job-error-where").text
    assert re.fullmatch(r"at \S+/bad\.csv, line 3, column v", where), where
    failed = browser.find_elements(By.CSS_SELECTOR, "#stage-graph g.stage.state-failed")
    assert failed, "the failed stage is marked"
    shot(browser, "failed")


CHECKED_DAG = """\
version: 1
name: checked
warehouse: {driver: sqlite, path: checked.db}
nodes:
  items:
    op: read
    format: csv
    path: mixed.csv
    csv: {header: true}
    on_error: reject
    schema: {k: int32, v: int64}
  q:
    op: check
    input: items
    rules:
      - {name: small_v, expect: "v < 90", on_fail: warn}
      - {name: enough, row_count: {min: 10}}
  out: {op: write, input: q, to: warehouse, table: checked, mode: overwrite}
"""


def test_rejects_and_checks(browser, cluster):
    lines = ["k,v"] + [f"{i % 5},{i}" for i in range(100)]
    lines[7] = "2,seven<b>"  # markup in data stays text
    lines[40] = "x,40"
    (cluster.workdir / "mixed.csv").write_text("\n".join(lines) + "\n")
    job_id = submit(cluster, CHECKED_DAG)
    done = cluster.wait_job(job_id)
    assert done["state"] == "succeeded", done
    assert done["rejected_rows"] == 2
    api_rejects = cluster.get(f"/v1/jobs/{job_id}/rejects").json()["rejects"]
    browser.get(cluster.url + f"/ui/#/job/{job_id}")
    table = wait(browser, lambda: browser.find_elements(By.ID, "rejects"))[0]
    rows = [[c.text for c in r.find_elements(By.TAG_NAME, "td")]
            for r in table.find_elements(By.CSS_SELECTOR, "tbody tr")]
    assert rows == [[r["node"], r["file"], str(r["line"]), r["reason"], r["raw"]] for r in api_rejects]
    assert sorted(r[2] for r in rows) == ["41", "8"] and any(r[4] == "2,seven<b>" for r in rows)
    assert not browser.find_elements(By.CSS_SELECTOR, "main b")  # escaped, not parsed
    checks = browser.find_elements(By.CSS_SELECTOR, "#checks tbody tr")
    assert len(checks) == len(done["checks"]) == 2
    for tr, c in zip(checks, done["checks"]):
        cells = [x.text for x in tr.find_elements(By.TAG_NAME, "td")]
        assert cells[:4] == [c["node"], c["rule"], c["kind"], c["action"]]
        assert cells[4:7] == [f"{c['rows_checked']:,}", f"{c['rows_failed']:,}",
                              "passed" if c["passed"] else "failed"]
    small = next(c for c in done["checks"] if c["rule"] == "small_v")
    assert not small["passed"] and small["rows_failed"] == 10  # v = 90..99
    browser.execute_script("document.getElementById('checks').scrollIntoView()")
    shot(browser, "checks")
    no_console_errors(browser)


def test_executors_page_lists_executors(browser, cluster):
    browser.get(cluster.url + "/ui/#/executors")
    wait(browser, lambda: len(browser.find_elements(By.CSS_SELECTOR, "tr.executor-row")) == 2)
    ex = cluster.get("/v1/executors").json()["executors"]
    shown = {r.get_attribute("data-id"): r.text for r in
             browser.find_elements(By.CSS_SELECTOR, "tr.executor-row")}
    assert set(shown) == {e["id"] for e in ex}
    for e in ex:
        assert "alive" in shown[e["id"]] and e["address"] in shown[e["id"]]
        assert f"/{e['slots']}" in shown[e["id"]] and "ago" in shown[e["id"]]
    shot(browser, "executors")


def test_schedules_page_answers(browser, cluster):
    browser.get(cluster.url + "/ui/#/schedules")
    r = cluster.get("/v1/schedules")
    if r.status_code == 404:
        p = wait(browser, lambda: browser.find_elements(By.ID, "no-schedules"))[0]
        assert "not available on this coordinator" in p.text
    else:
        assert r.status_code == 200
        wait(browser, lambda: browser.find_elements(By.ID, "schedules") or
             browser.find_elements(By.CSS_SELECTOR, "main p.empty"))
    shot(browser, "schedules")


def test_schedules_page_lists_a_schedule(browser, cluster):
    r = cluster.post("/v1/schedules", json={"dag": TICKIT, "cron": "0 3 1 1 *", "tz": "Europe/Paris"})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    try:
        browser.get(cluster.url + "/ui/#/schedules")
        rows = wait(browser, lambda: browser.find_elements(By.CSS_SELECTOR, "tr.schedule-row"))
        text = rows[0].text
        assert sid in text and "cron 0 3 1 1 *" in text, text
        # the next run: 1 January 03:00 in Paris is 02:00 UTC
        assert "01-01" in text and "02:00" in text, text
    finally:
        requests.delete(cluster.url + f"/v1/schedules/{sid}", headers=cluster.headers(), timeout=10)


def test_running_job_is_followed_without_reload(browser, tmp_path, tickit_data, monkeypatch):
    stage_tickit(tmp_path, tickit_data)
    monkeypatch.setenv("MILLRACE_TEST_BATCH_DELAY_MS", "300")  # a slow executor
    c = Cluster(tmp_path, executors=1, token=TOKEN)
    try:
        sign_in(browser, c)
        wait(browser, lambda: browser.find_elements(By.ID, "jobs-empty"))
        job_id = submit(c, TICKIT, data="data", warehouse="wh.db")
        # the list shows the new job without a reload
        wait(browser, lambda: browser.find_elements(By.CSS_SELECTOR, f"tr.job-row[data-id='{job_id}']"))
        browser.get(c.url + f"/ui/#/job/{job_id}")
        wait(browser, lambda: browser.find_elements(By.ID, "job-progress"))
        browser.execute_script("window.__sameDocument = 42")
        seen, states = [], set()
        end = time.time() + 120
        while time.time() < end:
            # both from one drawing of the page
            text, state = browser.execute_script(
                "return [document.getElementById('job-progress').textContent,"
                " document.querySelector('main h1 .state').textContent]")
            if not seen or seen[-1] != text:
                seen.append(text)
                if state == "running" and len(seen) == 2:
                    shot(browser, "job-running")
            states.add(state)
            if state in ("succeeded", "failed", "cancelled"):
                break
            time.sleep(0.1)
        done = c.get(f"/v1/jobs/{job_id}").json()
        assert done["state"] == "succeeded", done
        assert "running" in states and "succeeded" in states, states
        done_counts = [int(re.match(r"(\d+)/", s).group(1)) for s in seen]
        assert len(set(done_counts)) >= 3, seen  # tasks done grew in steps
        assert done_counts == sorted(done_counts), seen
        total = sum(s["tasks"]["total"] for s in done["stages"])
        assert seen[-1].startswith(f"{total}/{total} tasks done"), seen
        assert browser.execute_script("return window.__sameDocument") == 42  # no reload
        no_console_errors(browser)
    finally:
        c.stop()


def test_open_coordinator_needs_no_form(browser, tmp_path):
    c = Cluster(tmp_path, executors=1)  # no token: the API is open, the page asks nothing
    try:
        browser.get(c.url + "/ui/")
        browser.execute_script("sessionStorage.clear()")
        browser.get(c.url + "/ui/#/executors")
        wait(browser, lambda: len(browser.find_elements(By.CSS_SELECTOR, "tr.executor-row")) == 1)
        assert not browser.find_element(By.ID, "login").is_displayed()
        assert not browser.find_element(By.ID, "forget").is_displayed()
    finally:
        c.stop()
