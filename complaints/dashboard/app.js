// The officers' dashboard. Reads AnalyticsService through the gateway's REST
// routes (README, Gateway) with a read-only key held in this tab's
// sessionStorage and sent only as the Authorization header. WatchDashboard
// (one JSON Dashboard per line) keeps the figures, charts, top cases and the
// first page of the list current without a reload. Every text from the
// server is set with textContent, never parsed as HTML.
"use strict";

const KEY_STORE = "complaints.dashboard.key";
const PAGE_SIZE = 20;
const RATE_WINDOW_MS = 60_000;
const STATUSES = ["QUEUED", "PROCESSING", "PROCESSED", "FAILED"];

const $ = (selector) => document.querySelector(selector);
let key = takeKey();
let watching = null;
let rateSamples = []; // [time in ms, processed], for complaints processed per minute
let lastProcessed = null;
let nextToken = "";
let onFirstPage = true;
let listRefresh = null;

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// A key in the address's fragment (`make run` prints such a link) is moved
// to sessionStorage and removed from the address at once; a fragment is
// never sent to a server.
function takeKey() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  if (fragment.has("key")) {
    sessionStorage.setItem(KEY_STORE, fragment.get("key"));
    history.replaceState(null, "", location.pathname + location.search);
  }
  return sessionStorage.getItem(KEY_STORE) || "";
}

function askKey(message) {
  if (watching) watching.abort();
  $("#key-error").hidden = !message;
  $("#key-error").textContent = message || "";
  $("#forget").hidden = true;
  if (!$("#key-dialog").open) $("#key-dialog").showModal();
}

async function failure(reply) {
  let message = `${reply.status} ${reply.statusText}`;
  try {
    const status = await reply.json(); // google.rpc.Status, from the gateway
    if (status.message) message = status.message;
  } catch { /* not JSON: keep the HTTP status */ }
  return new ApiError(reply.status, message);
}

async function api(path, init = {}) {
  const reply = await fetch(path, {
    ...init, cache: "no-store",
    headers: { authorization: `Bearer ${key}`, ...(init.body ? { "content-type": "application/json" } : {}) },
  });
  if (!reply.ok) throw await failure(reply);
  return reply.json();
}

function problem(error) {
  if (error.status === 401 || error.status === 403) {
    askKey(`The gateway refused the key: ${error.message}`);
  } else {
    setLive("off", `error: ${error.message}`);
  }
}

function setLive(state, text) {
  $("#live").dataset.state = state;
  $("#live").textContent = text;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// WatchDashboard, reconnecting with a growing delay when the stream breaks.
async function watch() {
  const controller = new AbortController();
  watching = controller;
  let delay = 1000;
  while (!controller.signal.aborted) {
    try {
      const reply = await fetch("/v1/dashboard:watch", {
        headers: { authorization: `Bearer ${key}` }, cache: "no-store", signal: controller.signal,
      });
      if (!reply.ok) throw await failure(reply);
      setLive("live", "live");
      $("#forget").hidden = false;
      delay = 1000;
      const reader = reply.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, end).trim();
          buffer = buffer.slice(end + 1);
          if (line) showDashboard(JSON.parse(line));
        }
      }
    } catch (error) {
      if (controller.signal.aborted) return;
      if (error.status === 401 || error.status === 403) return problem(error);
    }
    setLive("off", `reconnecting in ${delay / 1000} s`);
    await sleep(delay);
    delay = Math.min(delay * 2, 30_000);
  }
}

const count = (value) => Number(value || 0); // int64 arrives as a JSON string

function showDashboard(dashboard) {
  const summary = dashboard.summary || {};
  for (const name of ["total", "queued", "processing", "processed", "failed", "received_today", "needs_review"]) {
    figure(name, count(summary[name]).toLocaleString("en"));
  }
  figure("mean_processing_seconds", `${Number(summary.mean_processing_seconds || 0).toFixed(1)} s`);
  noteProcessed(count(summary.processed));
  $("#as-of").textContent = dashboard.as_of ? `as of ${new Date(dashboard.as_of).toLocaleTimeString()}` : "";

  bars("#chart-status", STATUSES.map((status) => ({ key: status, count: summary[status.toLowerCase()] })));
  bars("#chart-categories", dashboard.categories || []);
  bars("#chart-sectors", dashboard.sectors || []);
  options("category", dashboard.categories || []);
  options("sector", dashboard.sectors || []);
  rows("#cases", dashboard.top_cases || [], (c) => [c.title || c.case_id, label(c.category), label(c.sector),
    [count(c.complaint_count).toLocaleString("en"), "num"], when(c.updated_at)], (c) => showCase(c.case_id));
  if (onFirstPage) {
    clearTimeout(listRefresh);
    listRefresh = setTimeout(() => loadComplaints(""), 1000);
  }
}

function figure(name, text) {
  $(`[data-figure="${name}"]`).textContent = text;
}

// Complaints processed per minute over the last minute, from the watch's
// processed totals (sampled again every 5 s, so a quiet minute shows 0).
function noteProcessed(processed) {
  lastProcessed = processed;
  const now = Date.now();
  rateSamples.push([now, processed]);
  rateSamples = rateSamples.filter(([time]) => now - time <= RATE_WINDOW_MS);
  const [firstTime, firstCount] = rateSamples[0];
  const minutes = Math.max((now - firstTime) / 60_000, 1 / 60);
  const rate = (processed - firstCount) / minutes;
  figure("rate", `${rate.toFixed(rate >= 100 ? 0 : 1)}/min`);
}

function bars(selector, buckets) {
  const list = $(selector);
  const top = Math.max(1, ...buckets.map((b) => count(b.count)));
  list.replaceChildren(...buckets.map((bucket) => {
    const item = document.createElement("li");
    item.dataset.key = bucket.key;
    const name = span("name", label(bucket.key));
    name.title = bucket.key;
    const track = span("track", "");
    const fill = span("fill", "");
    fill.style.width = `${(100 * count(bucket.count)) / top}%`;
    track.append(fill);
    item.append(name, track, span("count", count(bucket.count).toLocaleString("en")));
    return item;
  }));
}

function options(name, buckets) {
  const select = $(`#filters [name="${name}"]`);
  const known = new Set([...select.options].map((o) => o.value));
  for (const bucket of buckets) {
    if (!known.has(bucket.key)) select.append(new Option(label(bucket.key), bucket.key));
  }
}

const label = (value) => (value || "").replaceAll("_", " ").toLowerCase();
const when = (timestamp) => (timestamp ? new Date(timestamp).toLocaleString() : "");

function span(className, text) {
  const element = document.createElement("span");
  element.className = className;
  element.textContent = text;
  return element;
}

// Table rows: each cell a text or [text, class]; a click opens `open(item)`.
function rows(selector, items, cells, open) {
  $(`${selector} tbody`).replaceChildren(...items.map((item) => {
    const row = document.createElement("tr");
    for (const cell of cells(item)) {
      const [text, className] = Array.isArray(cell) ? cell : [cell, ""];
      const td = document.createElement("td");
      td.textContent = text ?? "";
      if (className) td.className = className;
      row.append(td);
    }
    row.tabIndex = 0;
    row.addEventListener("click", () => open(item));
    row.addEventListener("keydown", (event) => event.key === "Enter" && open(item));
    return row;
  }));
}

const complaintCells = (c) => [when(c.received_at), [c.status, `status-${c.status}`],
  [c.needs_review ? "review" : "", "review"], [c.subject || "(not analysed yet)", "subject"], label(c.category),
  label(c.sector)];

// ListComplaints by key: the next page's token goes back with the same filters.
async function loadComplaints(token) {
  const params = new URLSearchParams();
  for (const [name, value] of new FormData($("#filters"))) {
    if (!value) continue;
    params.set(name, name.startsWith("received_") ? new Date(`${value}T00:00:00`).toISOString() : value);
  }
  params.set("page_size", PAGE_SIZE);
  if (token) params.set("page_token", token);
  try {
    const page = await api(`/v1/complaints?${params}`);
    onFirstPage = !token;
    nextToken = page.next_page_token || "";
    rows("#complaints", page.complaints || [], complaintCells, (c) => showComplaint(c.complaint_id));
    $("#next-page").disabled = !nextToken;
    $("#page-info").textContent = `${(page.complaints || []).length} shown${onFirstPage ? ", newest first" : ""}`;
  } catch (error) {
    problem(error);
  }
}

function details(title, fields) {
  $("#detail-title").textContent = title;
  $("#detail-fields").replaceChildren(...fields.filter(([, value]) => value !== undefined && value !== "")
    .flatMap(([name, value]) => {
      const dt = document.createElement("dt");
      dt.textContent = name;
      const dd = document.createElement("dd");
      if (value instanceof Node) dd.append(value); else dd.textContent = value;
      return [dt, dd];
    }));
  $("#detail").hidden = false;
  $("#detail").scrollIntoView({ behavior: "smooth", block: "start" });
}

function caseLink(summary) {
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = summary.title || summary.case_id;
  button.addEventListener("click", () => showCase(summary.case_id));
  return button;
}

async function showComplaint(id) {
  try {
    const c = await api(`/v1/complaints/${encodeURIComponent(id)}`);
    const s = c.complaint || {};
    $("#detail-complaints").hidden = true;
    details(s.subject || `Complaint ${id}`, [
      ["Complaint", s.complaint_id], ["Status", s.status], ["Received", when(s.received_at)],
      ["Category", label(s.category)], ["Sector", label(s.sector)],
      ["Marked for review", s.needs_review ? "yes: confirm the analysis" : "no"],
      ["Case", c.case && c.case.case_id ? caseLink(c.case) : undefined],
      ["Summary", c.summary], ["Description", c.description], ["Location", c.location],
      ["Incident date", c.incident_date], ["Channel", c.channel], ["Source", c.source_system],
      ["Acts", (c.acts || []).join("; ")],
      ["Entities", (c.entities || []).map((e) => `${e.type}: ${e.value}`).join("; ")],
      ["Documents", (c.documents || []).map((d) => `${d.filename} (${d.detected_type}, ${count(d.size_bytes)} bytes, `
        + `${d.extraction_status})`).join("; ")],
      ["Attempts", String(c.attempts ?? "")], ["Last error", c.last_error], ["Analyzer", c.analyzer],
    ]);
  } catch (error) {
    problem(error);
  }
}

async function showCase(id) {
  try {
    const c = await api(`/v1/cases/${encodeURIComponent(id)}`);
    const s = c.case || {};
    details(s.title || `Case ${id}`, [
      ["Case", s.case_id], ["Category", label(s.category)], ["Sector", label(s.sector)],
      ["Complaints", count(s.complaint_count).toLocaleString("en")], ["Updated", when(s.updated_at)],
      ["Shared entities", (c.shared_entities || []).map((e) => `${e.type}: ${e.value} (${count(e.count)})`).join("; ")],
    ]);
    rows("#detail-complaints", c.complaints || [], complaintCells, (x) => showComplaint(x.complaint_id));
    $("#detail-complaints").hidden = false;
  } catch (error) {
    problem(error);
  }
}

function start() {
  loadComplaints("");
  watch();
}

$("#key-form").addEventListener("submit", () => {
  key = $("#key-input").value.trim();
  sessionStorage.setItem(KEY_STORE, key);
  $("#key-input").value = "";
  start();
});
$("#forget").addEventListener("click", () => {
  sessionStorage.removeItem(KEY_STORE);
  key = "";
  askKey("");
});
$("#filters").addEventListener("submit", (event) => {
  event.preventDefault();
  loadComplaints("");
});
$("#first-page").addEventListener("click", () => loadComplaints(""));
$("#next-page").addEventListener("click", () => nextToken && loadComplaints(nextToken));
$("#detail-close").addEventListener("click", () => { $("#detail").hidden = true; });
setInterval(() => lastProcessed !== null && noteProcessed(lastProcessed), 5000);

if (key) start(); else askKey("");
