/* ui.js - the millrace web UI: jobs, a job's stage graph and progress,
 * executors and schedules, read from the coordinator's REST API.
 *
 * Plain DOM, no framework.  Views are chosen by the URL's hash (#/jobs,
 * #/job/ID, #/executors, #/schedules) and redrawn from the API every
 * POLL_MS while they show something that moves, so a running job is
 * followed without reloading.  Every value from the API reaches the page as
 * a text node or an attribute set with setAttribute: never as HTML.
 *
 * The token: when the API answers 401 the page asks for it once, keeps it in
 * sessionStorage (this tab only) and sends it as Authorization: Bearer; a
 * token the coordinator refuses is said so and asked again.
 */
"use strict";

const POLL_MS = 1000;
const TOKEN_KEY = "millrace.token";
const SVG_NS = "http://www.w3.org/2000/svg";
const main = document.getElementById("main");
let timer = null;      /* the pending redraw */
let generation = 0;    /* bumped per navigation: late answers of an old view are dropped */
let planCache = {};    /* job id -> plan: a job's plan never changes */

class AuthError extends Error {}

/* ---- DOM helpers: text only ---- */

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  return fill(e, attrs, kids);
}

function svg(tag, attrs, ...kids) {
  return fill(document.createElementNS(SVG_NS, tag), attrs, kids);
}

function fill(e, attrs, kids) {
  for (const [k, v] of Object.entries(attrs || {}))
    if (v !== null && v !== undefined && v !== false) e.setAttribute(k, String(v));
  for (const k of kids.flat()) {
    if (k === null || k === undefined || k === false) continue;
    e.appendChild(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return e;
}

function table(headers, rows, attrs) {
  const head = el("tr", {}, headers.map(h => el("th", { class: h.num ? "num" : null }, h.label || h)));
  return el("table", attrs || {}, el("thead", {}, head), el("tbody", {}, rows));
}

function td(v, num) { return el("td", { class: num ? "num" : null }, v); }
function badge(state) { return el("span", { class: "state state-" + state }, state); }

/* ---- formatting ---- */

function fmtNum(n) {
  if (n === null || n === undefined) return "";
  return Number(n).toLocaleString("en-US");
}

function fmtBytes(n) {
  if (n === null || n === undefined) return "";
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0, v = Number(n);
  while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
  return (i ? v.toFixed(1) : String(v)) + " " + u[i];
}

function fmtDuration(ms) {
  if (ms === null || ms === undefined || ms < 0) return "";
  if (ms < 1000) return ms + " ms";
  const s = ms / 1000;
  if (s < 60) return s.toFixed(1) + " s";
  const m = Math.floor(s / 60);
  if (m < 60) return m + " min " + Math.round(s - m * 60) + " s";
  return Math.floor(m / 60) + " h " + (m % 60) + " min";
}

function fmtTime(iso) { return iso ? iso.replace("T", " ").replace(/\.\d+Z$/, "Z") : ""; }

/* A job's duration: start (or submission) to end, or to now while it runs. */
function jobDuration(j) {
  const from = Date.parse(j.started_at || j.submitted_at);
  if (!from) return null;
  const to = j.finished_at ? Date.parse(j.finished_at) : Date.now();
  return Math.max(0, to - from);
}

/* ---- the API ---- */

async function api(path) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = "Bearer " + token;
  const r = await fetch(path, { headers, cache: "no-store", credentials: "omit" });
  if (r.status === 401) throw new AuthError("unauthorized");
  let body = null;
  try { body = await r.json(); } catch (e) { body = null; }
  if (!r.ok) {
    const msg = body && body.error ? body.error.message : r.status + " " + r.statusText;
    const err = new Error(msg);
    err.status = r.status;
    throw err;
  }
  return body;
}

/* ---- the token form ---- */

function askToken(refused) {
  const form = document.getElementById("login");
  main.replaceChildren();
  form.hidden = false;
  document.getElementById("forget").hidden = true;
  document.getElementById("login-error").textContent = refused
    ? "The coordinator refused this token (401 unauthorized). Check it and try again." : "";
  document.getElementById("token").focus();
}

document.getElementById("login").addEventListener("submit", ev => {
  ev.preventDefault();
  const t = document.getElementById("token").value.trim();
  if (!t) return;
  sessionStorage.setItem(TOKEN_KEY, t);
  document.getElementById("token").value = "";
  document.getElementById("login").hidden = true;
  render();
});

document.getElementById("forget").addEventListener("click", () => {
  sessionStorage.removeItem(TOKEN_KEY);
  askToken(false);
});

/* ---- views ---- */

async function viewJobs() {
  const data = await api("/v1/jobs?limit=500");
  const rows = data.jobs.map(j => el("tr", { class: "job-row", "data-id": j.id, "data-state": j.state },
    el("td", {}, el("a", { href: "#/job/" + encodeURIComponent(j.id), class: "mono" }, j.id)),
    td(j.name || ""), el("td", {}, badge(j.state)), td(fmtTime(j.submitted_at)),
    td(fmtDuration(jobDuration(j)), true), el("td", { class: "error" }, j.error || "")));
  return {
    nodes: [el("h1", {}, "Jobs"),
      data.jobs.length
        ? table(["id", "name", "state", "submitted (UTC)", { label: "duration", num: true }, "error"],
                rows, { id: "jobs" })
        : el("p", { class: "empty", id: "jobs-empty" }, "No jobs yet.")],
    again: true, /* new jobs appear without reloading; durations of running ones grow */
  };
}

/* Layers stages left to right: a stage sits one column after the furthest
 * of its inputs; within a column, stages are ordered by the mean row of
 * their inputs (a barycentre pass), which keeps most edges short and
 * uncrossed on the plans millrace makes. */
function layout(stages) {
  const byId = new Map(stages.map(s => [s.id, s]));
  const layer = new Map();
  const depth = s => {
    if (layer.has(s.id)) return layer.get(s.id);
    layer.set(s.id, 0); /* guards a malformed cycle */
    let d = 0;
    for (const i of s.inputs || []) if (byId.has(i)) d = Math.max(d, depth(byId.get(i)) + 1);
    layer.set(s.id, d);
    return d;
  };
  stages.forEach(depth);
  const cols = [];
  for (const s of stages) (cols[layer.get(s.id)] = cols[layer.get(s.id)] || []).push(s);
  const row = new Map();
  cols.forEach((col, ci) => {
    if (ci > 0)
      col.sort((a, b) => bary(a) - bary(b));
    col.forEach((s, i) => row.set(s.id, i));
  });
  function bary(s) {
    const ins = (s.inputs || []).filter(i => row.has(i));
    return ins.length ? ins.reduce((t, i) => t + row.get(i), 0) / ins.length : 0;
  }
  return { cols, layer };
}

function opLabel(op) {
  return op.kind + (op.node ? " " + op.node : "");
}

/* The stage graph as SVG: a box per stage with its operators and
 * progress, an arrow per shuffle with the bytes it carried. */
function drawGraph(plan, job) {
  const live = new Map((job.stages || []).map(s => [s.id, s]));
  const { cols } = layout(plan.stages);
  const W = 250, GAP_X = 160, GAP_Y = 26, LINE = 15, MAX_OPS = 8;
  const boxH = s => 44 + Math.min(s.operators.length, MAX_OPS + 1) * LINE + 24 + (s.write ? LINE : 0);
  const pos = new Map();
  let height = 0;
  cols.forEach((col, ci) => {
    let y = 16;
    for (const s of col) {
      pos.set(s.id, { x: 16 + ci * (W + GAP_X), y, h: boxH(s) });
      y += boxH(s) + GAP_Y;
    }
    height = Math.max(height, y);
  });
  const width = 32 + cols.length * W + (cols.length - 1) * GAP_X;
  const g = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, id: "stage-graph",
                         role: "img", "aria-label": "stage graph" });
  g.appendChild(svg("defs", {}, svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5,
    markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" }, svg("path", { d: "M0,0 L10,5 L0,10 z" }))));
  for (const s of plan.stages) {
    const to = pos.get(s.id);
    for (const i of s.inputs || []) {
      const from = pos.get(i);
      if (!from) continue;
      const x1 = from.x + W, y1 = from.y + from.h / 2, x2 = to.x, y2 = to.y + to.h / 2;
      const mx = (x1 + x2) / 2;
      g.appendChild(svg("path", { class: "edge", "data-from": i, "data-to": s.id,
        d: `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`, "marker-end": "url(#arrow)" }));
    }
  }
  /* a shuffle's label once, at its sending stage: its keys and the bytes sent */
  for (const s of plan.stages) {
    if (!s.shuffle || !pos.has(s.id)) continue;
    const p = pos.get(s.id), ls = live.get(s.id);
    let keys = (s.shuffle.keys || []).join(", ");
    if (keys.length > 18) keys = keys.slice(0, 17) + "…";
    g.appendChild(svg("text", { class: "edge-label", x: p.x + W + 6, y: p.y + p.h / 2 - 6, "data-stage": s.id },
      (keys ? "by " + keys + " · " : s.shuffle.round_robin ? "round robin · " : "") +
      fmtBytes(ls ? ls.bytes_shuffled : 0)));
  }
  for (const s of plan.stages) {
    const p = pos.get(s.id), ls = live.get(s.id) || {};
    const state = ls.state || "waiting";
    const t = ls.tasks || { total: 0, succeeded: 0, running: 0, failed: 0 };
    const node = svg("g", { class: "node stage state-" + state, "data-stage": s.id,
                            transform: `translate(${p.x},${p.y})` });
    node.appendChild(svg("title", {}, `stage ${s.id}: ${state}`));
    node.appendChild(svg("rect", { class: "box", width: W, height: p.h, rx: 4 }));
    const n = t.total || s.partitions; /* a scan's tasks are its input splits, known when it starts */
    node.appendChild(svg("text", { class: "title", x: 10, y: 18 },
      `stage ${s.id} · ${n} task${n === 1 ? "" : "s"} · ${state}`));
    let y = 36;
    s.operators.slice(0, MAX_OPS).forEach(op => {
      node.appendChild(svg("text", { class: "op", x: 10, y }, opLabel(op)));
      y += LINE;
    });
    if (s.operators.length > MAX_OPS) {
      node.appendChild(svg("text", { class: "op", x: 10, y }, `… ${s.operators.length - MAX_OPS} more`));
      y += LINE;
    }
    if (s.write) {
      node.appendChild(svg("text", { class: "op", x: 10, y },
        "→ " + s.write.target + (s.write.table ? " " + s.write.table : s.write.path ? " " + s.write.path : "")));
      y += LINE;
    }
    const frac = t.total ? t.succeeded / t.total : 0;
    node.appendChild(svg("rect", { class: "bar", x: 10, y: y - 4, width: W - 20, height: 5 }));
    node.appendChild(svg("rect", { class: "done", x: 10, y: y - 4, width: (W - 20) * frac, height: 5 }));
    node.appendChild(svg("text", { class: "stat progress", x: 10, y: y + 14 },
      `tasks ${t.succeeded}/${t.total}` + (t.running ? ` (${t.running} running)` : "") +
      ` · rows ${fmtNum(ls.rows_out || 0)}`));
    g.appendChild(node);
  }
  return el("div", { class: "graph" }, g);
}

function stageTable(job) {
  return table(["stage", "state", "operators", "tasks", { label: "rows in", num: true },
                { label: "rows out", num: true }, { label: "read", num: true },
                { label: "shuffled", num: true }],
    job.stages.map(s => el("tr", { class: "stage-row", "data-stage": s.id },
      td(s.id), el("td", {}, badge(s.state)),
      td(s.operators.map(o => typeof o === "string" ? o : opLabel(o)).join(" → ")),
      el("td", { class: "tasks" }, el("progress", { max: s.tasks.total || 1, value: s.tasks.succeeded }), " ",
        `${s.tasks.succeeded}/${s.tasks.total}` + (s.tasks.running ? `, ${s.tasks.running} running` : "") +
        (s.tasks.failed ? `, ${s.tasks.failed} failed` : "") + (s.tasks.retried ? `, ${s.tasks.retried} retried` : "")),
      td(fmtNum(s.rows_in), true), td(fmtNum(s.rows_out), true),
      td(fmtBytes(s.bytes_read), true), td(fmtBytes(s.bytes_shuffled), true))), { id: "stages" });
}

/* Where an error points: data errors read "FILE:LINE: column 'NAME': ...",
 * DAG errors "FILE:LINE:COLUMN: ...".  Null when it names no place. */
function errorWhere(text) {
  const m = text.match(/(\S+?):(\d+)(?::(\d+))?:\s*(?:column '([^']*)')?/);
  return m ? { file: m[1], line: m[2], column: m[3] || m[4] || "" } : null;
}

async function viewJob(id) {
  const path = "/v1/jobs/" + encodeURIComponent(id);
  const job = await api(path);
  if (!planCache[id]) planCache[id] = await api(path + "/plan");
  const plan = planCache[id];
  const rejects = job.rejected_rows ? await api(path + "/rejects?limit=100") : null;
  const t = job.stages.reduce((a, s) => [a[0] + s.tasks.succeeded, a[1] + s.tasks.total], [0, 0]);
  const rows = job.stages.reduce((a, s) => a + (s.rows_out || 0), 0);
  const nodes = [
    el("h1", {}, "Job ", el("span", { class: "mono" }, job.id), " ", job.name || "", " ", badge(job.state)),
    el("dl", { class: "facts" },
      el("dt", {}, "submitted"), el("dd", {}, fmtTime(job.submitted_at)),
      el("dt", {}, "started"), el("dd", {}, fmtTime(job.started_at) || "not yet"),
      el("dt", {}, "finished"), el("dd", {}, fmtTime(job.finished_at) || "not yet"),
      el("dt", {}, "duration"), el("dd", {}, fmtDuration(jobDuration(job))),
      el("dt", {}, "progress"), el("dd", { id: "job-progress" },
        `${t[0]}/${t[1]} tasks done, ${fmtNum(rows)} rows out`),
      el("dt", {}, "params"), el("dd", { class: "mono" },
        Object.entries(job.params || {}).map(([k, v]) => k + "=" + v).join("  ") || "none")),
  ];
  if (job.error) {
    nodes.push(el("h2", {}, "Error"));
    const w = errorWhere(job.error);
    if (w) nodes.push(el("p", { id: "job-error-where" }, "at ", el("code", {}, w.file), ", line ", w.line,
      w.column ? [", column ", el("code", {}, w.column)] : null));
    nodes.push(el("pre", { class: "error", id: "job-error" }, job.error));
  }
  nodes.push(el("h2", {}, "Stage graph"), drawGraph(plan, job), el("h2", {}, "Stages"), stageTable(job));
  if (job.outputs && job.outputs.length)
    nodes.push(el("h2", {}, "Outputs"), table(["node", "target", { label: "rows", num: true }],
      job.outputs.map(o => el("tr", {}, td(o.node), td(o.target), td(fmtNum(o.rows), true))), { id: "outputs" }));
  if (job.checks && job.checks.length)
    nodes.push(el("h2", {}, "Checks"), table(["node", "rule", "kind", "on fail", { label: "checked", num: true },
      { label: "failed", num: true }, "result", "sample"],
      job.checks.map(c => el("tr", { class: c.passed ? "check" : "check failed-check" },
        td(c.node), td(c.rule), td(c.kind), td(c.action), td(fmtNum(c.rows_checked), true),
        td(fmtNum(c.rows_failed), true), td(c.passed ? "passed" : "failed"),
        el("td", { class: "mono sample" }, (c.sample || []).map(x => JSON.stringify(x)).join("\n")))), { id: "checks" }));
  if (rejects)
    nodes.push(el("h2", {}, `Rejected rows (${fmtNum(rejects.rejected_rows)}; first ${rejects.rejects.length} shown)`),
      table(["node", "file", { label: "line", num: true }, "reason", "raw"],
        rejects.rejects.map(r => el("tr", {}, td(r.node), el("td", { class: "mono" }, r.file),
          td(r.line || "", true), td(r.reason), el("td", { class: "mono" }, r.raw))), { id: "rejects" }));
  return { nodes, again: job.state === "queued" || job.state === "running" };
}

async function viewExecutors() {
  const data = await api("/v1/executors");
  const rows = data.executors.map(x => el("tr", { class: "executor-row", "data-id": x.id },
    el("td", { class: "mono" }, x.id), el("td", { class: "mono" }, x.address), el("td", {}, badge(x.state)),
    td(fmtDuration(x.last_heartbeat_ms) + " ago", true), td(`${x.running_tasks}/${x.slots}`, true),
    td(fmtBytes(x.memory_bytes), true), td(fmtBytes(x.shuffle_bytes_held), true),
    td(fmtBytes(x.shuffle_bytes_spilled), true)));
  return {
    nodes: [el("h1", {}, "Executors"), data.executors.length
      ? table(["id", "address", "state", { label: "last heartbeat", num: true },
               { label: "tasks / slots", num: true }, { label: "memory", num: true },
               { label: "shuffle held", num: true }, { label: "spilled", num: true }], rows, { id: "executors" })
      : el("p", { class: "empty" }, "No executor has registered.")],
    again: true,
  };
}

/* Schedules come from GET /v1/schedules where the coordinator keeps them;
 * an older or storeless coordinator answers 404, and the page says so. */
async function viewSchedules() {
  let data;
  try {
    data = await api("/v1/schedules");
  } catch (e) {
    if (e instanceof AuthError) throw e;
    return { nodes: [el("h1", {}, "Schedules"), el("p", { class: "empty", id: "no-schedules" },
      "Schedules are not available on this coordinator (" + e.message + ").")], again: false };
  }
  const list = Array.isArray(data) ? data : data.schedules || [];
  const when = s => s.cron ? "cron " + s.cron : s.after ? "after " + [].concat(s.after).join(", ") : "";
  const times = v => [].concat(v || []).map(x => typeof x === "object" && x ? (x.job_id || x.id || "") + " " +
    (x.state || "") + " " + fmtTime(x.submitted_at || x.at || "") : fmtTime(String(x))).join("\n");
  const rows = list.map(s => el("tr", { class: "schedule-row" }, el("td", { class: "mono" }, s.id),
    td(s.dag_name || s.name || s.dag || ""), td(when(s)),
    el("td", { class: "mono" }, times(s.next_runs || s.next_run || s.next)),
    el("td", { class: "mono" }, times(s.last_runs || s.last_run || s.runs))));
  return { nodes: [el("h1", {}, "Schedules"), list.length
    ? table(["id", "DAG", "when", "next runs (UTC)", "last runs"], rows, { id: "schedules" })
    : el("p", { class: "empty" }, "No schedules.")], again: true };
}

/* ---- the router ---- */

function route() {
  const h = location.hash.replace(/^#\/?/, "");
  const m = h.match(/^job\/(.+)$/);
  if (m) return { nav: "jobs", view: () => viewJob(decodeURIComponent(m[1])) };
  if (h === "executors") return { nav: "executors", view: viewExecutors };
  if (h === "schedules") return { nav: "schedules", view: viewSchedules };
  return { nav: "jobs", view: viewJobs };
}

async function render(keepScroll) {
  clearTimeout(timer);
  const gen = ++generation;
  const r = route();
  for (const a of document.querySelectorAll("header nav a"))
    a.classList.toggle("current", a.id === "nav-" + r.nav);
  let out;
  try {
    out = await r.view();
  } catch (e) {
    if (gen !== generation) return;
    if (e instanceof AuthError) {
      askToken(!!sessionStorage.getItem(TOKEN_KEY));
      return;
    }
    out = { nodes: [el("h1", {}, "Cannot show this page"), el("p", { class: "error", id: "page-error" },
      e.message || String(e))], again: e.status !== 404 };
  }
  if (gen !== generation) return;
  document.getElementById("login").hidden = true;
  document.getElementById("forget").hidden = !sessionStorage.getItem(TOKEN_KEY);
  const x = window.scrollX, y = window.scrollY;
  main.replaceChildren(...out.nodes);
  if (keepScroll) window.scrollTo(x, y);
  document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString();
  if (out.again) timer = setTimeout(() => render(true), POLL_MS);
}

window.addEventListener("hashchange", () => render(false));
render(false);
