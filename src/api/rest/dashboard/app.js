// The live dashboard: starts a scan, follows it through the session's
// server-sent events (read with fetch, so the API key travels in a header,
// never in a URL), and falls back to polling the exact `?after=` cursor when
// the stream is unavailable. Every piece of scan data is set as text, never
// parsed as HTML.

const KEY_STORE = "livescan.apiKey";
const POLL_INTERVAL_MS = 2000;
const SEVERITIES = ["critical", "high", "medium", "low", "info"];
const TERMINAL = new Set(["completed", "partial", "failed", "cancelled"]);
const FINDINGS_SHOWN = 50;
const ISSUES_SHOWN = 200;

const $ = (id) => document.getElementById(id);
const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

/** An error answer of the API: its HTTP status and `error.message`. */
class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.error?.code;
  }
}

let apiKey = localStorage.getItem(KEY_STORE) ?? sessionStorage.getItem(KEY_STORE);
/** The session being shown; replaced (and its stream aborted) by the next. */
let current = null;

async function api(path, options = {}) {
  const response = await fetch(path, {
    ...options,
    headers: { Authorization: `Bearer ${apiKey}`, ...(options.headers ?? {}) },
  });
  const body = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    throw new ApiError(response.status, body);
  }
  return body;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = !message;
}

/** The transport to use: `?transport=poll` forces polling. */
function preferredTransport() {
  return new URLSearchParams(location.search).get("transport") === "poll" ? "poll" : "sse";
}

// ---- account and key -------------------------------------------------------

function showAccount(account) {
  $("account").textContent = `${account.name} · ${account.balance.toLocaleString("en")} credits`;
}

async function useKey(key, remember) {
  apiKey = key;
  try {
    showAccount(await api("/api/account"));
    (remember ? localStorage : sessionStorage).setItem(KEY_STORE, key);
    $("key-panel").hidden = true;
    $("scan-panel").hidden = false;
    showError("");
    loadRecent();
    return true;
  } catch (err) {
    forgetKey();
    showError(err instanceof ApiError && err.status === 401 ? `The key was refused: ${err.message}` : String(err.message ?? err));
    return false;
  }
}

function forgetKey() {
  apiKey = null;
  localStorage.removeItem(KEY_STORE);
  sessionStorage.removeItem(KEY_STORE);
  $("account").textContent = "";
  $("key-panel").hidden = false;
  $("scan-panel").hidden = true;
  $("recent-panel").hidden = true;
}

async function refreshBalance() {
  try {
    showAccount(await api("/api/account"));
  } catch {
    // The balance is a courtesy; the session view stands on its own.
  }
}

async function loadRecent() {
  try {
    const { sessions } = await api("/api/sessions?limit=8");
    const list = $("recent");
    list.replaceChildren();
    for (const s of sessions) {
      const item = el("li");
      const link = el("a", null, s.sessionId);
      link.href = `#session=${encodeURIComponent(s.sessionId)}`;
      item.append(link, ` · ${s.status} · ${s.progress.completed + s.progress.failed + s.progress.skipped}/${s.progress.total} tools · ${plural(s.summary.totalFindings, "finding")}`);
      list.append(item);
    }
    $("recent-panel").hidden = sessions.length === 0;
  } catch {
    $("recent-panel").hidden = true;
  }
}

// ---- starting a scan -------------------------------------------------------

function readTarget(raw) {
  const entries = raw.split(/\s+/).filter(Boolean);
  if (entries.length === 0) return null;
  if (entries.length > 1) return { urls: entries };
  return entries[0].includes("://") ? { url: entries[0] } : { directory: entries[0] };
}

async function startScan(event) {
  event.preventDefault();
  const target = readTarget($("target").value);
  const categories = [...document.querySelectorAll("input[name=category]:checked")].map((box) => box.value);
  if (!target) return showError("target: enter a URL or a directory path");
  if (categories.length === 0) return showError("categories: choose at least one");
  $("start").disabled = true;
  showError("");
  try {
    const started = await api("/api/sessions", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ target, categories }),
    });
    location.hash = `session=${encodeURIComponent(started.sessionId)}`;
  } catch (err) {
    showError(err instanceof ApiError && err.status === 402
      ? `Not enough credits: ${err.message}`
      : `The scan was not started: ${err.message}`);
  } finally {
    $("start").disabled = false;
  }
}

// ---- one session's view ----------------------------------------------------

/** The findings that count: suppressed ones are listed but not counted. */
function counted(report) {
  return (report.result?.findings ?? []).filter((f) => !f.suppression || f.suppression.expired);
}

function worstSeverity(report) {
  const counts = {};
  for (const finding of counted(report)) counts[finding.severity] = true;
  return SEVERITIES.find((s) => counts[s]) ?? null;
}

function countsText(report) {
  const counts = Object.fromEntries(SEVERITIES.map((s) => [s, 0]));
  for (const finding of counted(report)) counts[finding.severity] += 1;
  const parts = SEVERITIES.filter((s) => counts[s] > 0).map((s) => `${counts[s]} ${s}`);
  return parts.length ? `${plural(report.findingsCount, "finding")}: ${parts.join(", ")}` : "no findings";
}

function findingLocation(finding) {
  if (finding.path) return finding.line ? `${finding.path}:${finding.line}` : finding.path;
  return finding.url ?? "";
}

function toolRow(report) {
  const worst = worstSeverity(report);
  const row = el("li", `tool ${report.status} ${worst ? `sev-${worst}` : "sev-none"}`);
  row.dataset.tool = report.toolName;
  row.dataset.severity = worst ?? "none";
  const line = el("div", "tool-line");
  const icon = report.status === "completed" ? "✓" : report.status === "failed" ? "⚠" : "–";
  line.append(el("span", "tool-icon", icon), el("span", "tool-name", report.toolName), el("span", "tool-category", report.category));
  let detail;
  if (report.status === "failed") {
    detail = `failed: ${report.result?.error ?? "unknown error"}`;
  } else if (report.status === "skipped") {
    detail = `skipped: ${report.result?.skipReason ?? "not run"}`;
  } else {
    detail = countsText(report);
  }
  line.append(el("span", "tool-detail", detail), el("span", "tool-duration", `${(report.duration / 1000).toFixed(1)}s`));
  row.append(line);
  const findings = report.result?.findings ?? [];
  if (findings.length > 0) {
    const details = el("details");
    details.append(el("summary", null, `show ${plural(findings.length, "finding")}`));
    const list = el("ul", "findings");
    for (const finding of findings.slice(0, FINDINGS_SHOWN)) {
      const item = el("li");
      item.append(el("span", `sev ${finding.severity}`, finding.severity), " ", el("code", null, finding.ruleId), " ",
        el("span", "location", findingLocation(finding)), " ", finding.message);
      list.append(item);
    }
    if (findings.length > FINDINGS_SHOWN) list.append(el("li", null, `… and ${findings.length - FINDINGS_SHOWN} more`));
    details.append(list);
    row.append(details);
  }
  return row;
}

/** The issues table, filtered by severity, category and search text. */
function showIssues(issues) {
  const severity = $("issue-severity").value;
  const category = $("issue-category").value;
  const words = $("issue-search").value.trim().toLowerCase();
  const shown = issues.filter((issue) => {
    if (severity && issue.severity !== severity) return false;
    if (category && issue.category !== category) return false;
    if (!words) return true;
    const text = [issue.title, issue.location, ...issue.seenBy.map((s) => `${s.tool} ${s.ruleId}`)].join(" ");
    return text.toLowerCase().includes(words);
  });
  const body = $("issues").tBodies[0];
  body.replaceChildren();
  for (const issue of shown.slice(0, ISSUES_SHOWN)) {
    const row = el("tr");
    row.dataset.severity = issue.severity;
    row.dataset.category = issue.category;
    const tools = issue.seenBy.map((s) => `${s.tool} (${s.ruleId})`).join(", ");
    row.append(el("td", `sev ${issue.severity}`, issue.severity), el("td", null, issue.title),
      el("td", "location", issue.location), el("td", null, tools));
    body.append(row);
  }
  $("issues-shown").textContent = `${shown.length} of ${plural(issues.length, "issue")} shown` +
    (shown.length > ISSUES_SHOWN ? ` (the first ${ISSUES_SHOWN} listed)` : "");
}

/** The analysis panel: the grade, what to fix first, the merged issues. */
function showAnalysis(analysis) {
  if (!analysis) return;
  $("analysis-grade").textContent = analysis.grade;
  $("analysis-grade").className = `grade grade-${analysis.grade[0].toLowerCase()}`;
  $("analysis-risk").textContent = `risk ${analysis.riskScore}/100 · ${plural(analysis.findings, "finding")} merged into ${plural(analysis.issueCount, "issue")}`;
  $("analysis-summary").textContent = analysis.summary;
  showNarrative(analysis.narrative);
  const list = $("analysis-priorities");
  list.replaceChildren();
  for (const priority of analysis.priorities) {
    const item = el("li");
    item.append(el("span", `sev ${priority.severity}`, priority.severity), " ", el("span", "location", priority.location),
      " ", priority.title, el("div", "why", `Why: ${priority.why}`), el("div", "todo", `Do: ${priority.whatToDo}`));
    list.append(item);
  }
  const filter = () => showIssues(analysis.issues);
  for (const id of ["issue-severity", "issue-category"]) $(id).onchange = filter;
  $("issue-search").oninput = filter;
  filter();
  $("analysis").hidden = false;
}

/** The model's narrative of the analysis, or why there is none. */
function showNarrative(narrative) {
  const shown = $("analysis-narrative");
  shown.hidden = !narrative;
  if (!narrative) return;
  shown.textContent = narrative.text
    ? `${narrative.text}\n— ${narrative.model}`
    : `No narrative from ${narrative.model}: ${narrative.error}`;
  shown.classList.toggle("failed", !narrative.text);
}

function describeTarget(target) {
  if (!target) return "";
  if (target.url) return target.url;
  if (target.urls) return target.urls.join(", ");
  return target.directory ?? "";
}

/** Everything the page shows about one session, fed by SSE or by polling. */
class SessionView {
  constructor(sessionId) {
    this.sessionId = sessionId;
    this.cursor = null;
    this.shown = new Set();
    this.finished = false;
    this.abort = new AbortController();
    $("session-id").textContent = sessionId;
    $("tools").replaceChildren();
    $("summary").hidden = true;
    $("analysis").hidden = true;
    $("refund").hidden = true;
    $("session-error").hidden = true;
    $("target-line").textContent = "";
    $("session-panel").hidden = false;
    this.setStatus("initializing");
    this.setProgress({ total: 0, completed: 0, failed: 0, skipped: 0, percentage: 0 });
  }

  stop() {
    this.abort.abort();
  }

  setStatus(status) {
    $("status").textContent = status;
    $("status").className = `status ${status}`;
    $("cancel").hidden = TERMINAL.has(status);
  }

  /** Asks the server to cancel; the end arrives like any other. */
  async cancel() {
    $("cancel").disabled = true;
    try {
      await api(`/api/sessions/${encodeURIComponent(this.sessionId)}/cancel`, { method: "POST" });
    } catch (err) {
      showError(`The scan was not cancelled: ${err.message}`);
    } finally {
      $("cancel").disabled = false;
    }
  }

  setTransport(text) {
    $("transport").textContent = text;
  }

  setProgress(progress) {
    const done = progress.completed + progress.failed + progress.skipped;
    $("progress-text").textContent = `${done}/${progress.total} tools complete (${progress.percentage}%)`;
    $("progress-fill").style.width = `${progress.percentage}%`;
    $("progress-fill").parentElement.setAttribute("aria-valuenow", String(progress.percentage));
  }

  addReport(report) {
    if (this.shown.has(report.toolName)) return;
    this.shown.add(report.toolName);
    $("tools").prepend(toolRow(report));
  }

  /** The full view (a snapshot, or the final state). */
  showFull(session) {
    $("target-line").textContent = describeTarget(session.target);
    this.setStatus(session.status);
    this.setProgress(session.progress);
    const finished = Object.values(session.toolReports)
      .filter((r) => r.completedAt)
      .sort((a, b) => a.completedAt.localeCompare(b.completedAt));
    for (const report of finished) this.addReport(report);
    this.cursor = session.cursor;
    showAnalysis(session.intelligence);
    if (TERMINAL.has(session.status)) this.showEnd(session);
  }

  showEnd(end) {
    this.finished = true;
    this.setStatus(end.status);
    if (end.progress) this.setProgress(end.progress);
    const summary = end.summary;
    $("summary-title").textContent = `Scan ${end.status}: ${plural(summary.totalFindings, "finding")}`;
    const body = $("summary-table").tBodies[0];
    body.replaceChildren();
    for (const severity of SEVERITIES) {
      const row = el("tr");
      row.append(el("td", `sev ${severity}`, severity), el("td", null, String(summary.bySeverity[severity])));
      body.append(row);
    }
    const total = el("tr");
    total.append(el("td", null, "total"), el("td", null, String(summary.totalFindings)));
    body.append(total);
    $("summary-tools").textContent =
      `${summary.toolsRun} tools completed, ${summary.toolsFailed} failed, ${summary.toolsSkipped} skipped`;
    const refund = end.refund;
    if (refund && refund.refundedCredits > 0) {
      $("refund").textContent = `Refunded ${plural(refund.refundedCredits, "credit")} for ${refund.toolsRefunded.join(", ")} · balance ${refund.newBalance.toLocaleString("en")}`;
      $("refund").hidden = false;
    }
    if (end.error) {
      $("session-error").textContent = end.error;
      $("session-error").hidden = false;
    }
    $("summary").hidden = false;
    refreshBalance();
    loadRecent();
  }

  /** Applies one event of the stream (`type` as in the SSE `event:` field). */
  apply(type, data) {
    if (type === "snapshot") return this.showFull(data);
    if (type === "error") throw new Error(data?.error?.message ?? "the event stream reported an error");
    this.cursor = data.seq;
    if (data.progress) this.setProgress(data.progress);
    if (type === "session_running" || type === "tool_started") this.setStatus("running");
    if (type === "tool_finished") this.addReport(data.report);
    if (type === "analysis") showAnalysis(data.intelligence);
    if (type === "narrative") showNarrative(data.narrative);
    if (type === "session_finished") this.showEnd(data);
  }

  async follow() {
    if (preferredTransport() === "sse") {
      try {
        await this.stream();
      } catch (err) {
        if (this.abort.signal.aborted) return;
        console.warn("event stream unavailable, polling instead:", err);
      }
    }
    if (!this.finished && !this.abort.signal.aborted) await this.poll();
  }

  /** Reads the server-sent events with fetch (EventSource cannot send the key). */
  async stream() {
    this.setTransport("live (server-sent events)");
    const after = this.cursor === null ? "" : `?after=${this.cursor}`;
    const response = await fetch(`/api/sessions/${encodeURIComponent(this.sessionId)}/events${after}`, {
      headers: { Authorization: `Bearer ${apiKey}`, Accept: "text/event-stream" },
      signal: this.abort.signal,
    });
    if (response.status === 204) return;
    if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null));
    if (!response.body) throw new Error("this browser cannot stream a response");
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value.replace(/\r\n/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let type = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (line.startsWith("event:")) type = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        }
        if (data.length > 0) this.apply(type, JSON.parse(data.join("\n")));
      }
    }
    if (!this.finished) throw new Error("the event stream ended before the session did");
  }

  /** The Sessions API reference's polling, from the exact cursor. */
  async poll() {
    this.setTransport(`polling every ${POLL_INTERVAL_MS / 1000}s`);
    const id = encodeURIComponent(this.sessionId);
    while (!this.abort.signal.aborted) {
      try {
        if (this.cursor === null) {
          this.showFull(await api(`/api/sessions/${id}`));
        } else {
          const page = await api(`/api/sessions/${id}?after=${this.cursor}`);
          for (const report of page.newReports) this.addReport(report);
          this.setProgress(page.progress);
          this.setStatus(page.status);
          this.cursor = page.cursor;
          if (TERMINAL.has(page.status)) {
            this.showFull(await api(`/api/sessions/${id}`));
          }
        }
        if (this.finished) return;
        showError("");
      } catch (err) {
        if (err instanceof ApiError && (err.status === 401 || err.status === 404)) {
          return showError(err.message);
        }
        showError(`Polling failed (${err.message}); trying again`);
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
    }
  }
}

function showSessionFromHash() {
  const id = new URLSearchParams(location.hash.slice(1)).get("session");
  if (!id || !apiKey || current?.sessionId === id) return;
  current?.stop();
  current = new SessionView(id);
  current.follow().catch((err) => showError(err.message));
}

// ---- wiring ------------------------------------------------------------------

$("key-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (await useKey($("api-key").value.trim(), $("remember").checked)) {
    $("api-key").value = "";
    showSessionFromHash();
  }
});
$("forget-key").addEventListener("click", () => {
  current?.stop();
  current = null;
  $("session-panel").hidden = true;
  forgetKey();
});
$("scan-form").addEventListener("submit", startScan);
$("cancel").addEventListener("click", () => current?.cancel());
window.addEventListener("hashchange", showSessionFromHash);

if (apiKey) {
  useKey(apiKey, localStorage.getItem(KEY_STORE) !== null).then((ok) => ok && showSessionFromHash());
} else {
  forgetKey();
}
