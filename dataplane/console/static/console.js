// The dataplane console: reads the control API once a second, acts through it as the CLI does.
// No framework and nothing from the network but this origin. Text from the API is inserted as
// text (textContent, attributes), never as HTML.
"use strict";

const SERVING = "serving.knative.dev";
const REFRESH_MS = 1000;
const CHART_SECONDS = 120;
const LOG_LINES = 20;
const LOGGED_PODS = 8; // pods whose logs are shown; more would mean a request each per second
const TAG = /^[a-z]([-a-z0-9]*[a-z0-9])?$/; // a DNS label, as a tag becomes part of a host name

// ---------------------------------------------------------------------------------------------
// the API

// The token comes in the address `dataplane up` prints (#token=...: a fragment, never sent by the browser),
// is kept in this tab's sessionStorage (this origin only) and leaves the address bar at once. The server
// never hands it out: see dataplane/console/app.py.
const TOKEN_KEY = "dataplane-api-token";

function takeTokenFromAddress() {
  const found = location.hash.match(/^#token=([A-Za-z0-9_-]+)/);
  if (!found) return;
  sessionStorage.setItem(TOKEN_KEY, found[1]);
  history.replaceState(null, "", location.pathname + "#/");
}

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

function askForToken() {
  document.getElementById("token-form").hidden = false;
}

function setupTokenForm() {
  const form = document.getElementById("token-form");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const input = document.getElementById("token-input");
    if (!input.value.trim()) return;
    sessionStorage.setItem(TOKEN_KEY, input.value.trim());
    input.value = "";
    form.hidden = true;
  });
  if (!token()) askForToken();
}

// {status, body}: body is the parsed JSON (or {error: text} for a non-JSON answer)
async function call(method, path, body) {
  const headers = {};
  if (method !== "GET") {
    if (!token()) {
      askForToken();
      return { status: 401, body: { error: "this page has no API token: open the address dataplane up printed (console: ...#token=...), or paste the token from $DATAPLANE_HOME/api-token at the top" } };
    }
    headers["Authorization"] = `Bearer ${token()}`;
  }
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" });
  const text = await resp.text();
  let parsed;
  try { parsed = text ? JSON.parse(text) : {}; } catch (e) { parsed = { error: text }; }
  if (resp.status === 401) {
    // a new start of `dataplane up` has a new token: this one is of no use any more
    sessionStorage.removeItem(TOKEN_KEY);
    askForToken();
  }
  return { status: resp.status, body: parsed };
}

async function get(path) {
  const answer = await call("GET", path);
  if (answer.status !== 200) throw new ApiError(answer);
  return answer.body;
}

class ApiError extends Error {
  constructor(answer) {
    super(answer.body.error || `HTTP ${answer.status}`);
    this.status = answer.status;
    this.details = answer.body.details || [];
  }
}

// ---------------------------------------------------------------------------------------------
// small helpers

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const svgNS = "http://www.w3.org/2000/svg";
function svg(tag, attrs, text) {
  const node = document.createElementNS(svgNS, tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function condition(obj, type) {
  return ((obj.status || {}).conditions || []).find((c) => c.type === type) || {};
}

function stateCell(cond) {
  const status = cond.status || "Unknown";
  return el("td", { class: `state-${status}` }, status);
}

function age(timestamp) {
  if (!timestamp) return "";
  const s = Math.max(0, Math.floor((Date.now() - Date.parse(timestamp)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

function podStatus(pod) {
  if ((pod.metadata || {}).deletionTimestamp) return "Terminating";
  const status = pod.status || {};
  for (const c of status.containerStatuses || []) {
    const state = c.state || {};
    if (state.waiting && state.waiting.reason) return state.waiting.reason;
    if (state.terminated) return state.terminated.reason || `ExitCode:${state.terminated.exitCode || 0}`;
  }
  return status.reason || status.phase || "Unknown";
}

function podReason(pod) {
  const parts = [];
  for (const c of (pod.status || {}).containerStatuses || []) {
    const waiting = (c.state || {}).waiting;
    if (waiting && waiting.message) parts.push(`${c.name}: ${waiting.message}`);
    const last = (c.lastState || {}).terminated;
    if (last) parts.push(`${c.name} last exit ${last.exitCode} (${last.reason || ""})${last.message ? ": " + last.message.split("\n")[0] : ""}`);
  }
  const ready = condition(pod, "Ready");
  if (ready.reason) parts.push(`${ready.reason}${ready.message ? ": " + ready.message : ""}`);
  return parts.join("; ");
}

// true when `data` is what `node` was last drawn from: redrawing would only lose the keyboard focus in it
function unchanged(node, data) {
  const signature = JSON.stringify(data);
  if (node.dataset.signature === signature) return true;
  node.dataset.signature = signature;
  return false;
}

function replace(node, ...children) {
  node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
}

// kubectl's `<singular>.<group>/<name>`, as `dataplane apply` prints results
function ref(result) {
  const group = String(result.apiVersion || "").includes("/") ? String(result.apiVersion).split("/")[0] : "";
  const kind = String(result.kind || "").toLowerCase();
  return `${group ? kind + "." + group : kind}/${result.name}`;
}

// ---------------------------------------------------------------------------------------------
// results, shown as the CLI prints them

function showResult(box, lines) {
  replace(box, lines.map(([kind, text]) => el("p", { class: `line ${kind}` }, text)));
}

function errorLines(err) {
  const tag = err.status === 404 ? " (NotFound)" : "";
  return [["error", `Error from server${tag}: ${err.message}`]];
}

function fieldErrorTable(details) {
  if (!details.length) return null;
  return el("table", { class: "field-errors" },
    el("caption", { class: "sr" }, "Field errors"),
    el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Field"), el("th", { scope: "col" }, "Error"))),
    el("tbody", {}, details.map((d) => el("tr", { class: "field-error-row" },
      el("td", {}, d.path || (d.document !== undefined ? `document ${d.document + 1}` : "")),
      el("td", { class: "field-error" }, d.message || JSON.stringify(d))))));
}

// Wait for a Service to be Ready at its generation, as `dataplane apply` does; lines go to `box`.
async function waitReady(box, lines, namespace, name, timeoutS = 300) {
  const label = `service/${name}`;
  const deadline = Date.now() + timeoutS * 1000;
  while (Date.now() < deadline) {
    let svc;
    try { svc = await get(`/v1/services/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`); } catch (e) { break; }
    const status = svc.status || {};
    const ready = condition(svc, "Ready");
    const text = [ready.reason, ready.message].filter(Boolean).join(": ");
    if (status.observedGeneration === svc.metadata.generation) {
      if (ready.status === "True") {
        showResult(box, [...lines, ["ok", `${label} is ready${status.url ? " at " + status.url : ""}`]]);
        return true;
      }
      if (ready.status === "False") {
        showResult(box, [...lines, ["error", `error: ${label} is not ready: ${text || "Ready is False"}`]]);
        return false;
      }
    }
    showResult(box, [...lines, ["", `waiting for ${label}: ${text || "generation " + svc.metadata.generation + " not yet observed"}`]]);
    await new Promise((r) => setTimeout(r, 250));
  }
  showResult(box, [...lines, ["error", `error: timed out waiting for ${label}`]]);
  return false;
}

// POST /v1/apply and show what the CLI would; the field errors (422) as a table of paths.
async function apply(box, body) {
  showResult(box, [["", "applying…"]]);
  let answer;
  try { answer = await call("POST", "/v1/apply", body); } catch (e) {
    showResult(box, [["error", `error: ${e.message}`]]);
    return false;
  }
  if (answer.status !== 200) {
    const err = new ApiError(answer);
    showResult(box, errorLines(err));
    const table = fieldErrorTable(err.details);
    if (table) box.append(table);
    return false;
  }
  const lines = (answer.body.results || []).map((r) => ["ok", `${ref(r)} ${r.action || "configured"}`]);
  showResult(box, lines);
  const services = (answer.body.results || []).filter((r) => r.kind === "Service" && r.action !== "unchanged");
  let ok = true;
  for (const r of services) ok = (await waitReady(box, lines, r.namespace || "default", r.name)) && ok;
  return ok;
}

function setupApplyForm() {
  const form = document.getElementById("apply-form");
  const text = document.getElementById("apply-text");
  const file = document.getElementById("apply-file");
  const box = document.getElementById("apply-result");
  let source = "manifest";
  text.addEventListener("input", () => { source = "manifest"; });
  file.addEventListener("change", async () => {
    const chosen = file.files[0];
    if (!chosen) return;
    text.value = await chosen.text();
    source = chosen.name;
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!text.value.trim()) {
      showResult(box, [["error", "error: no objects passed to apply"]]);
      return;
    }
    await apply(box, { manifest: text.value, source });
    refresh();
  });
}

// ---------------------------------------------------------------------------------------------
// state, refreshed once a second

const state = { services: [], revisions: [], pods: [], eventsAfter: 0, series: new Map() };
let view = null;

// one refresh at a time: an action's refresh joins the one in flight instead of racing it
let refreshing = null;
function refresh() {
  if (!refreshing) refreshing = refreshNow().finally(() => { refreshing = null; });
  return refreshing;
}

async function refreshNow() {
  try {
    const [services, revisions, pods, events] = await Promise.all([
      get("/v1/services?allNamespaces=1"),
      get("/v1/revisions?allNamespaces=1"),
      get("/v1/pods?allNamespaces=1"),
      get(`/v1/events?after=${state.eventsAfter}`),
    ]);
    state.services = services.items;
    state.revisions = revisions.items;
    state.pods = pods.items;
    addEvents(events.events);
    if (view && view.update) await view.update();
    document.getElementById("connection").textContent = `connected, updated ${new Date().toLocaleTimeString()}`;
  } catch (e) {
    document.getElementById("connection").textContent = `not connected: ${e.message}`;
  }
}

function addEvents(events) {
  const list = document.getElementById("events");
  for (const e of events) {
    state.eventsAfter = Math.max(state.eventsAfter, e.seq);
    list.prepend(el("li", {}, e.line));
  }
  while (list.children.length > 200) list.lastChild.remove();
}

// ---------------------------------------------------------------------------------------------
// the list of Services, as `dataplane get ksvc` shows them

function servicesView() {
  const tbody = el("tbody");
  const root = el("section", { "aria-labelledby": "services-heading" },
    el("h2", { id: "services-heading" }, "Services"),
    el("table", { id: "services" },
      el("thead", {}, el("tr", {}, ["NAMESPACE", "NAME", "URL", "LATESTCREATED", "LATESTREADY", "READY", "REASON"].map((h) => el("th", { scope: "col" }, h)))),
      tbody));
  return {
    root,
    update() {
      if (unchanged(tbody, state.services.map((s) => [s.metadata, s.status]))) return;
      if (!state.services.length) {
        replace(tbody, el("tr", {}, el("td", { colspan: 7 }, "No Services yet: apply one below.")));
        return;
      }
      replace(tbody, state.services.map((svc) => {
        const m = svc.metadata, s = svc.status || {}, ready = condition(svc, "Ready");
        return el("tr", { "data-name": m.name },
          el("td", {}, m.namespace),
          el("td", {}, el("a", { href: `#/services/${encodeURIComponent(m.namespace)}/${encodeURIComponent(m.name)}` }, m.name)),
          el("td", {}, s.url || ""),
          el("td", {}, s.latestCreatedRevisionName || ""),
          el("td", {}, s.latestReadyRevisionName || ""),
          stateCell(ready),
          el("td", {}, ready.reason || ""));
      }));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// one Service: revisions, traffic, charts, pods and their logs

function serviceView(namespace, name) {
  const header = el("div");
  const actions = el("div", { class: "result", role: "status", "aria-live": "polite", id: "service-result" });
  const revBody = el("tbody");
  const trafficForm = el("form", { id: "traffic-form", novalidate: true });
  const charts = el("div", { id: "charts" });
  const podBody = el("tbody");
  const logs = el("div", { id: "logs" });
  const deleteButton = el("button", { type: "button", id: "delete-service" }, `Delete service ${name}`);
  const root = el("div", {},
    el("p", {}, el("a", { href: "#/" }, "← all Services")),
    el("h2", { id: "service-heading" }, `Service ${name}`),
    header, deleteButton, actions,
    el("h3", {}, "Revisions"),
    el("table", { id: "revisions" },
      el("thead", {}, el("tr", {}, ["NAME", "TRAFFIC", "TAGS", "CONTAINER CONCURRENCY", "READY", "REASON", "CONDITIONS", ""].map((h) => el("th", { scope: "col" }, h)))),
      revBody),
    el("h3", {}, "Traffic split and tags"),
    trafficForm,
    el("h3", {}, "Live, per revision"),
    el("p", { class: "hint" }, "Every second, from the activator's stat reports and the autoscaler's decisions. Solid, dashed and dotted lines are named under each chart."),
    charts,
    el("h3", {}, "Pods"),
    el("table", { id: "pods" },
      el("thead", {}, el("tr", {}, ["NAME", "REVISION", "READY", "STATUS", "RESTARTS", "AGE", "REASON"].map((h) => el("th", { scope: "col" }, h)))),
      podBody),
    el("h3", {}, "Pod logs (last lines, following)"),
    logs);

  let service = null;
  let trafficBuilt = false;
  let trafficEdited = false;
  let trafficSource = "";
  trafficForm.addEventListener("input", () => { trafficEdited = true; });
  trafficForm.addEventListener("click", (event) => { if (event.target.closest("#traffic-add, .traffic-row button")) trafficEdited = true; });
  const chartsByRevision = new Map();

  deleteButton.addEventListener("click", async () => {
    if (!window.confirm(`Delete service ${name} in namespace ${namespace}? Its revisions, routes and pods go with it.`)) return;
    const answer = await call("DELETE", `/v1/services/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`);
    if (answer.status === 200) showResult(actions, [["ok", `service.${SERVING} "${name}" deleted`]]);
    else showResult(actions, errorLines(new ApiError(answer)));
    refresh();
  });

  function revisionsOf() {
    return state.revisions
      .filter((r) => r.metadata.namespace === namespace && (r.metadata.labels || {})[`${SERVING}/service`] === name)
      .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  }

  // the Service as applied, with `traffic` in place of its own: the same template, so no new revision
  function withTraffic(traffic) {
    const m = service.metadata;
    return {
      apiVersion: service.apiVersion, kind: "Service",
      metadata: { name: m.name, namespace: m.namespace, labels: m.labels || {}, annotations: m.annotations || {} },
      spec: { ...service.spec, traffic },
    };
  }

  async function sendTraffic(traffic, what) {
    showResult(actions, [["", `${what}…`]]);
    await apply(actions, { documents: [withTraffic(traffic)] });
    trafficBuilt = false;
    refresh();
  }

  // ---- the traffic form: rows of target, percent, tag; checked here before it is sent
  function trafficRow(entry, revisions) {
    const target = el("select", { "aria-label": "revision", class: "t-target" },
      el("option", { value: "@latest" }, "latest ready revision"),
      revisions.map((r) => el("option", { value: r.metadata.name }, r.metadata.name)));
    target.value = entry.latestRevision ? "@latest" : entry.revisionName || "@latest";
    const percent = el("input", { type: "number", min: 0, max: 100, step: 1, class: "t-percent", "aria-label": "percent", value: entry.percent ?? 0, size: 4 });
    const tag = el("input", { type: "text", class: "t-tag", "aria-label": "tag", value: entry.tag || "", size: 12, autocomplete: "off" });
    const remove = el("button", { type: "button", "aria-label": "remove this row" }, "Remove");
    const row = el("tr", { class: "traffic-row" }, el("td", {}, target), el("td", {}, percent, " %"), el("td", {}, tag), el("td", {}, remove));
    remove.addEventListener("click", () => row.remove());
    return row;
  }

  function buildTrafficForm() {
    const revisions = revisionsOf();
    const rows = el("tbody", {}, (service.spec.traffic || [{ latestRevision: true, percent: 100 }]).map((t) => trafficRow(t, revisions)));
    const errors = el("ul", { class: "traffic-errors", id: "traffic-errors", role: "alert" });
    const add = el("button", { type: "button", id: "traffic-add" }, "Add a row");
    add.addEventListener("click", () => rows.append(trafficRow({ percent: 0 }, revisionsOf())));
    replace(trafficForm,
      el("table", {}, el("thead", {}, el("tr", {}, ["Revision", "Percent", "Tag (optional)", ""].map((h) => el("th", { scope: "col" }, h)))), rows),
      el("p", {}, add, " ", el("button", { type: "submit", id: "traffic-submit" }, "Set traffic"), " ",
        el("button", { type: "button", id: "traffic-reset", onclick: () => { trafficBuilt = false; view.update(); } }, "Reset to current")),
      errors);
    trafficBuilt = true;
    trafficEdited = false;
  }

  trafficForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const errors = trafficForm.querySelector("#traffic-errors");
    const problems = [];
    const traffic = [];
    const tags = new Set();
    let sum = 0;
    trafficForm.querySelectorAll("[aria-invalid]").forEach((n) => n.removeAttribute("aria-invalid"));
    trafficForm.querySelectorAll("tr.traffic-row").forEach((row, i) => {
      const target = row.querySelector(".t-target"), percent = row.querySelector(".t-percent"), tag = row.querySelector(".t-tag");
      const path = `spec.traffic[${i}]`;
      const p = Number(percent.value);
      if (percent.value.trim() === "" || !Number.isInteger(p) || p < 0 || p > 100) {
        problems.push(`${path}.percent: must be a whole number from 0 to 100, not "${percent.value}"`);
        percent.setAttribute("aria-invalid", "true");
      } else sum += p;
      const t = tag.value.trim();
      if (t && (!TAG.test(t) || t.length > 63)) {
        problems.push(`${path}.tag: "${t}" must be a DNS label: lower-case letters, digits and '-', starting with a letter, at most 63`);
        tag.setAttribute("aria-invalid", "true");
      } else if (t && tags.has(t)) {
        problems.push(`${path}.tag: "${t}" is used by another row`);
        tag.setAttribute("aria-invalid", "true");
      }
      if (t) tags.add(t);
      const entry = target.value === "@latest" ? { latestRevision: true } : { revisionName: target.value, latestRevision: false };
      entry.percent = p;
      if (t) entry.tag = t;
      traffic.push(entry);
    });
    if (!traffic.length) problems.push("spec.traffic: at least one row is needed");
    else if (sum !== 100) problems.push(`spec.traffic: the percents add up to ${sum}, not 100`);
    replace(errors, problems.map((p) => el("li", {}, p)));
    if (problems.length) return;
    await sendTraffic(traffic, "setting traffic");
  });

  function showHeader() {
    const s = service.status || {};
    const ready = condition(service, "Ready");
    replace(header, el("dl", { class: "facts" },
      el("dt", {}, "URL"), el("dd", {}, s.url || "(none yet)"),
      el("dt", {}, "Ready"), el("dd", { id: "service-ready" }, `${ready.status || "Unknown"}${ready.reason ? " (" + ready.reason + ")" : ""}${ready.message ? ": " + ready.message : ""}`),
      el("dt", {}, "Latest created / latest ready"), el("dd", {}, `${s.latestCreatedRevisionName || "-"} / ${s.latestReadyRevisionName || "-"}`)));
  }

  function revisionRows(revisions) {
    const traffic = (service.status || {}).traffic || [];
    if (unchanged(revBody, [traffic, service.spec.traffic, revisions.map((r) => [r.metadata.name, r.spec.containerConcurrency, r.status])])) return;
    replace(revBody, revisions.map((r) => {
      const rn = r.metadata.name;
      const mine = traffic.filter((t) => t.revisionName === rn);
      const percent = mine.reduce((a, t) => a + (t.percent || 0), 0);
      const tags = mine.filter((t) => t.tag).map((t) => el("div", {}, `${t.tag}: ${t.url || ""}`));
      const ready = condition(r, "Ready");
      const conds = ((r.status || {}).conditions || []).map((c) =>
        el("div", {}, `${c.type} ${c.status}${c.reason ? " (" + c.reason + ")" : ""}${c.message ? ": " + c.message : ""}`));
      const rollback = el("button", { type: "button", class: "rollback", "data-revision": rn }, `Send 100% to ${rn}`);
      rollback.addEventListener("click", () => {
        const keep = (service.spec.traffic || []).filter((t) => t.tag && t.percent === 0);
        sendTraffic([{ revisionName: rn, latestRevision: false, percent: 100 }, ...keep.filter((t) => t.revisionName !== rn)], `rolling back to ${rn}`);
      });
      return el("tr", { "data-revision": rn },
        el("td", {}, rn),
        el("td", { class: "traffic" }, `${percent}%`),
        el("td", {}, tags),
        el("td", {}, String((r.spec || {}).containerConcurrency ?? 0)),
        stateCell(ready),
        el("td", {}, ready.reason || ""),
        el("td", {}, conds),
        el("td", {}, percent === 100 ? "" : rollback));
    }));
  }

  function podRows(pods) {
    replace(podBody, pods.length ? pods.map((p) => {
      const statuses = (p.status || {}).containerStatuses || [];
      return el("tr", { "data-pod": p.metadata.name },
        el("td", {}, p.metadata.name),
        el("td", {}, (p.metadata.labels || {})[`${SERVING}/revision`] || ""),
        el("td", {}, `${statuses.filter((c) => c.ready).length}/${statuses.length}`),
        el("td", {}, podStatus(p)),
        el("td", {}, String(statuses.reduce((a, c) => a + (c.restartCount || 0), 0))),
        el("td", {}, age(p.metadata.creationTimestamp)),
        el("td", {}, podReason(p)));
    }) : el("tr", {}, el("td", { colspan: 7 }, "No pods: every revision is at zero.")));
  }

  // each pod's block stays in place while the pod lives, its text refreshed (a focused log keeps its focus)
  const logBlocks = new Map();
  const moreLogs = el("p");
  async function podLogs(pods) {
    const shown = pods.slice(0, LOGGED_PODS);
    const names = new Set(shown.map((p) => p.metadata.name));
    for (const [pod, block] of logBlocks) if (!names.has(pod)) { block.root.remove(); logBlocks.delete(pod); }
    await Promise.all(shown.map(async (p) => {
      let block = logBlocks.get(p.metadata.name);
      if (!block) {
        const pre = el("pre", { class: "log", tabindex: 0, "aria-label": `log of ${p.metadata.name}` }, "…");
        block = { pre, root: el("section", { class: "pod-log", "data-pod": p.metadata.name }, el("h4", {}, p.metadata.name), pre) };
        logBlocks.set(p.metadata.name, block);
      }
      const path = `/v1/pods/${encodeURIComponent(p.metadata.namespace)}/${encodeURIComponent(p.metadata.name)}/log?tail=${LOG_LINES}`;
      let text;
      try {
        const resp = await fetch(path, { cache: "no-store" });
        text = resp.ok ? await resp.text() : `(${resp.status})`;
      } catch (e) { text = `(${e.message})`; }
      if (block.pre.textContent !== (text || "(no output yet)")) {
        block.pre.textContent = text || "(no output yet)";
        block.pre.scrollTop = block.pre.scrollHeight;
      }
    }));
    moreLogs.textContent = pods.length > shown.length ? `and ${pods.length - shown.length} more pods (dataplane logs POD)` : "";
    const wanted = shown.map((p) => logBlocks.get(p.metadata.name).root);
    if (!wanted.length) { if (!logs.querySelector(".none")) replace(logs, el("p", { class: "none" }, "No pods, so no logs.")); return; }
    if (wanted.some((node, i) => logs.children[i] !== node) || logs.children.length !== wanted.length + 1) replace(logs, wanted, moreLogs);
  }

  async function chartsFor(revisions) {
    for (const r of revisions) {
      const rn = r.metadata.name;
      let chart = chartsByRevision.get(rn);
      if (!chart) {
        chart = new RevisionChart(namespace, rn);
        chartsByRevision.set(rn, chart);
      }
      await chart.update();
    }
    for (const [rn, chart] of chartsByRevision) {
      if (!revisions.some((r) => r.metadata.name === rn)) chartsByRevision.delete(rn);
    }
    replace(charts, [...chartsByRevision.values()].map((c) => c.root));
  }

  return {
    root,
    async update() {
      service = state.services.find((s) => s.metadata.namespace === namespace && s.metadata.name === name) || null;
      if (!service) {
        replace(header, el("p", { id: "service-ready" }, `service ${name} does not exist (anymore) in namespace ${namespace}.`));
        return;
      }
      const revisions = revisionsOf();
      showHeader();
      revisionRows(revisions);
      // the form follows the Service until someone edits it; "Reset to current" lets it follow again
      const current = JSON.stringify([service.spec.traffic, revisions.map((r) => r.metadata.name)]);
      if (!trafficBuilt || (!trafficEdited && current !== trafficSource)) {
        buildTrafficForm();
        trafficSource = current;
      }
      const pods = state.pods.filter((p) => p.metadata.namespace === namespace && (p.metadata.labels || {})[`${SERVING}/service`] === name);
      podRows(pods);
      await Promise.all([chartsFor(revisions), podLogs(pods)]);
    },
  };
}

// ---------------------------------------------------------------------------------------------
// the live chart of one revision: four panels on one time axis, drawn as SVG

// four panels in a 2 x 2 grid, each PW x PH with room for its title and scale
const PW = 350, PH = 90, COL = 380, ROW = 128, LEFT = 44, TOP = 22;
const PANELS = [
  { title: "requests/s", lines: [["rps", "l1", "request rate"]] },
  { title: "concurrency", lines: [["concurrency", "l1", "observed (last second)"], ["stable", "l2", "stable-window average"], ["target", "l3", "target per pod"]] },
  { title: "pods", lines: [["ready", "l1", "ready"], ["desired", "l2", "desired"]], integer: true },
  { title: "latency ms", lines: [["p50", "l1", "p50"], ["p99", "l2", "p99"]], scale: 1000 },
];

class RevisionChart {
  constructor(namespace, name) {
    this.namespace = namespace;
    this.name = name;
    this.samples = [];
    this.last = 0;
    this.caption = el("figcaption", { id: `caption-${name}` });
    this.svg = svg("svg", { viewBox: `0 0 ${2 * COL} ${2 * ROW}`, role: "img", "aria-labelledby": `caption-${name}` });
    this.root = el("figure", { class: "chart", "data-revision": name }, el("h4", {}, name), this.svg, this.caption);
  }

  async update() {
    let body;
    try {
      body = await get(`/v1/series/${encodeURIComponent(this.namespace)}/${encodeURIComponent(this.name)}?since=${this.last}`);
    } catch (e) {
      this.caption.textContent = `no samples yet (${e.message})`;
      return;
    }
    for (const s of body.samples) {
      if (s.t <= this.last) continue;
      this.samples.push(s);
      this.last = Math.max(this.last, s.t);
    }
    const oldest = this.last - CHART_SECONDS;
    this.samples = this.samples.filter((s) => s.t > oldest);
    this.draw();
  }

  draw() {
    const samples = this.samples;
    const node = this.svg;
    node.replaceChildren();
    const defs = svg("defs");
    const hatch = svg("pattern", { id: "hatch", width: 6, height: 6, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" });
    hatch.append(svg("line", { x1: 0, y1: 0, x2: 0, y2: 6, stroke: "#999", "stroke-width": 3 }));
    defs.append(hatch);
    node.append(defs);
    const end = this.last || Math.floor(Date.now() / 1000);
    PANELS.forEach((panel, i) => {
      const left = (i % 2) * COL + LEFT, top = Math.floor(i / 2) * ROW + TOP, right = (i % 2) * COL + PW;
      const x = (t) => left + ((t - (end - CHART_SECONDS)) / CHART_SECONDS) * (right - left);
      const scale = panel.scale || 1;
      const values = samples.flatMap((s) => panel.lines.map(([k]) => s[k]).filter((v) => typeof v === "number" && v >= 0).map((v) => v * scale));
      let max = Math.max(1, ...values);
      if (panel.integer) max = Math.ceil(max);
      const y = (v) => top + PH - (v * scale / max) * PH;
      node.append(svg("text", { x: left - LEFT, y: top - 8 }, panel.title));
      node.append(svg("text", { x: left - LEFT, y: top + 10 }, fmt(max)));
      node.append(svg("text", { x: left - LEFT, y: top + PH }, "0"));
      node.append(svg("text", { x: left, y: top + PH + 14 }, `-${CHART_SECONDS} s`));
      node.append(svg("text", { x: right, y: top + PH + 14, "text-anchor": "end" }, "now"));
      node.append(svg("line", { class: "axis", x1: left, y1: top + PH, x2: right, y2: top + PH }));
      node.append(svg("line", { class: "grid", x1: left, y1: top, x2: right, y2: top }));
      if (panel.title === "pods") {
        // panic mode: hatched where the autoscaler panicked, labelled so it reads without colour
        for (const s of samples.filter((s) => s.panic)) {
          node.append(svg("rect", { class: "panic", x: x(s.t - 1), y: top, width: Math.max(1, x(s.t) - x(s.t - 1)), height: PH }));
        }
        for (const s of samples.filter((s) => s.cold_start !== null && s.cold_start !== undefined)) {
          node.append(svg("line", { class: "cold", x1: x(s.t), y1: top, x2: x(s.t), y2: top + PH }));
          node.append(svg("text", label(x(s.t), right, top + 10), `cold ${s.cold_start.toFixed(1)} s`));
        }
        for (const s of samples.filter((s) => s.shed > 0)) {
          node.append(svg("line", { class: "shed", x1: x(s.t), y1: top, x2: x(s.t), y2: top + PH }));
          node.append(svg("text", label(x(s.t), right, top + 22), `shed ${s.shed}`));
        }
      }
      for (const [key, cls] of panel.lines) {
        const points = samples.filter((s) => typeof s[key] === "number" && s[key] >= 0).map((s) => `${x(s.t).toFixed(1)},${y(s[key]).toFixed(1)}`);
        if (points.length) node.append(svg("polyline", { class: `${cls} line-${key}`, points: points.join(" ") }));
      }
    });
    const now = samples[samples.length - 1];
    const legend = PANELS.map((p) => `${p.title}: ${p.lines.map(([, cls, label]) => `${label} ${cls === "l1" ? "solid" : cls === "l2" ? "dashed" : "dotted"}`).join(", ")}`).join("; ");
    if (!now) {
      this.caption.textContent = `${this.name}: no samples yet. ${legend}.`;
      return;
    }
    const colds = samples.filter((s) => s.cold_start !== null && s.cold_start !== undefined);
    const shed = samples.reduce((a, s) => a + s.shed, 0);
    const ms = (v) => (v === null || v === undefined ? "-" : `${Math.round(v * 1000)} ms`);
    replace(this.caption,
      el("span", { class: "now" },
        `Now (${new Date(now.t * 1000).toLocaleTimeString()}): ${fmt(now.rps)} requests/s; concurrency ${fmt(now.concurrency)} observed, ` +
        `${fmt(now.stable)} stable average, target ${fmt(now.target)} per pod; `),
      el("span", { class: "pods" }, `pods: desired ${now.desired < 0 ? "-" : now.desired}, ready ${now.ready}`),
      `; panic ${now.panic ? "ON" : "off"}; latency p50 ${ms(now.p50)}, p99 ${ms(now.p99)}. `,
      `Last ${CHART_SECONDS} s: most ready pods ${Math.max(...samples.map((s) => s.ready))}, ` +
      `${colds.length} cold start${colds.length === 1 ? "" : "s"}${colds.length ? " (waits " + colds.map((s) => s.cold_start.toFixed(1) + " s").join(", ") + ")" : ""}, ` +
      `${shed} request${shed === 1 ? "" : "s"} shed. `,
      el("span", { class: "legend" }, `${legend}; hatched: panic mode.`));
    this.root.dataset.ready = String(now.ready);
    this.root.dataset.maxReady = String(Math.max(...samples.map((s) => s.ready)));
  }
}

// a marker's label: right of its line, or left of it near the panel's right edge
function label(at, right, y) {
  return at > right - 80 ? { x: at - 3, y, "text-anchor": "end" } : { x: at + 3, y };
}

function fmt(v) {
  if (typeof v !== "number") return "-";
  if (Number.isInteger(v) || v >= 100) return String(Math.round(v));
  return v.toFixed(v < 10 ? 2 : 1);
}

// ---------------------------------------------------------------------------------------------
// routing: #/ is the list, #/services/<ns>/<name> one Service

function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  view = parts[0] === "services" && parts.length === 3 ? serviceView(parts[1], parts[2]) : servicesView();
  replace(document.getElementById("view"), view.root);
  refresh();
}

let timer = null;
async function loop() {
  await refresh();
  timer = setTimeout(loop, REFRESH_MS);
}

window.addEventListener("hashchange", () => {
  takeTokenFromAddress(); // the printed address pasted into an open tab
  route();
});
window.addEventListener("DOMContentLoaded", () => {
  takeTokenFromAddress();
  setupTokenForm();
  setupApplyForm();
  view = null;
  const parts = location.hash.replace(/^#\/?/, "").split("/");
  view = parts[0] === "services" && parts.length === 3 ? serviceView(decodeURIComponent(parts[1]), decodeURIComponent(parts[2])) : servicesView();
  replace(document.getElementById("view"), view.root);
  loop();
});
