/** LivescanClient and pollSession against the real server. */
import { describe, expect, test } from "vitest";
import {
  LivescanClient,
  LivescanError,
  isTerminalStatus,
  type PollOptions,
  type PollUpdate,
  type SessionIncrement,
  type StartSessionRequest,
  type ToolReport,
} from "../src/index.js";
import { testEnv } from "./env.js";
import {
  SLOW_TOOLS,
  delay,
  plantedCompleted,
  plantedPartial,
  recordingFetch,
  slowPartial,
  type RecordedCall,
} from "./helpers.js";

const env = testEnv();
const INTERVAL = 150;

function client(apiKey = env.LIVESCAN_API_KEY, fetch?: ReturnType<typeof recordingFetch>["fetch"]) {
  return new LivescanClient({ baseUrl: env.LIVESCAN_URL, apiKey, ...(fetch ? { fetch } : {}) });
}

/** Starts `request`, polls it with `options`, and checks the invariants every mode must keep. */
async function pollAndCheck(request: StartSessionRequest, options: PollOptions, expectedTools: string[]) {
  const rec = recordingFetch();
  const c = client(env.LIVESCAN_API_KEY, rec.fetch);
  const started = await c.startSession(request);
  expect(started.status).toBe("started");
  expect(started.sessionId).toMatch(/^sess-/);

  const seen: ToolReport[] = [];
  const updates: PollUpdate[] = [];
  const result = await c.pollSession(started.sessionId, {
    interval: INTERVAL,
    ...options,
    onReport: (r) => seen.push(r),
    onProgress: (u) => updates.push(u),
  });
  const callsAtEnd = rec.calls.length;

  // Every report exactly once, in the order the tools finished.
  expect(seen.map((r) => r.toolName).sort()).toEqual([...expectedTools].sort());
  expect(result.reports).toEqual(seen);
  const times = seen.map((r) => Date.parse(r.completedAt!));
  for (let i = 1; i < times.length; i++) expect(times[i]!).toBeGreaterThan(times[i - 1]!);
  for (const r of seen) expect(["completed", "failed", "skipped"]).toContain(r.status);

  // Stopped on the terminal status, with the final full report.
  expect(isTerminalStatus(result.status)).toBe(true);
  expect(updates.at(-1)!.status).toBe(result.status);
  for (const u of updates.slice(0, -1)) expect(isTerminalStatus(u.status)).toBe(false);
  for (const u of updates) {
    const p = u.progress;
    expect(p.pending + p.running + p.completed + p.failed + p.skipped).toBe(p.total);
  }
  expect(result.session?.status).toBe(result.status);
  expect(Object.keys(result.session!.toolReports).sort()).toEqual([...expectedTools].sort());
  await delay(INTERVAL * 3);
  expect(rec.calls.length).toBe(callsAtEnd);
  return { started, result, updates, calls: rec.calls };
}

describe("pollSession", () => {
  test.concurrent("incremental with ?after=<previous cursor> on a slow partial session", async () => {
    const { result, updates, calls } = await pollAndCheck(slowPartial(env), { mode: "incremental" }, SLOW_TOOLS);
    expect(result.status).toBe("partial");
    expect(updates.length).toBeGreaterThan(3);
    // The reports came over several polls, not all at the end.
    const polls = calls.filter((c) => c.url.includes("after="));
    const withReports = polls.filter((c) => (c.body as SessionIncrement).newReports.length > 0);
    expect(withReports.length).toBeGreaterThan(1);
    // Each request feeds back the cursor of the answer before it.
    expect(new URL(polls[0]!.url).searchParams.get("after")).toBe("0");
    for (let i = 1; i < polls.length; i++) {
      const previous = polls[i - 1]!.body as SessionIncrement;
      expect(new URL(polls[i]!.url).searchParams.get("after")).toBe(String(previous.cursor));
    }
  });

  test.concurrent("incremental with ?since=<previous lastUpdated> on a slow partial session", async () => {
    const request = slowPartial(env);
    const rec = recordingFetch();
    const c = client(env.LIVESCAN_API_KEY, rec.fetch);
    const started = await c.startSession(request);
    const seen: string[] = [];
    const result = await c.pollSession(started.sessionId, {
      mode: "incremental",
      cursor: "since",
      since: started.lastUpdated,
      interval: INTERVAL,
      onReport: (r) => seen.push(r.toolName),
    });
    expect(result.status).toBe("partial");
    expect([...seen].sort()).toEqual([...SLOW_TOOLS].sort());
    const polls = rec.calls.filter((call) => call.url.includes("since="));
    expect(polls.length).toBeGreaterThan(3);
    // Never the client clock: each `since` is the previous answer's lastUpdated.
    expect(new URL(polls[0]!.url).searchParams.get("since")).toBe(started.lastUpdated);
    for (let i = 1; i < polls.length; i++) {
      const previous = polls[i - 1]!.body as SessionIncrement;
      expect(new URL(polls[i]!.url).searchParams.get("since")).toBe(previous.lastUpdated);
    }
  });

  test.concurrent("progress mode polls ?progress=true and delivers the reports once at the end", async () => {
    const { result, updates, calls } = await pollAndCheck(slowPartial(env), { mode: "progress" }, SLOW_TOOLS);
    expect(result.status).toBe("partial");
    const progressPolls = calls.filter((c) => c.url.endsWith("?progress=true"));
    expect(progressPolls.length).toBe(updates.length);
    expect(new Set(updates.map((u) => u.progress.percentage)).size).toBeGreaterThan(2);
    // One full read, the last request.
    const full = calls.filter((c) => c.method === "GET" && !c.url.includes("?"));
    expect(full.length).toBe(1);
    expect(calls.at(-1)).toBe(full[0]);
  });

  test.concurrent("full mode picks each finished report out of the full view once", async () => {
    const { result, calls } = await pollAndCheck(slowPartial(env), { mode: "full" }, SLOW_TOOLS);
    expect(result.status).toBe("partial");
    expect(calls.filter((c) => c.method === "GET").every((c) => !c.url.includes("?"))).toBe(true);
  });

  for (const mode of ["incremental", "progress", "full"] as const) {
    test.concurrent(`${mode}: stops on partial (a skipped tool) and reports the refund`, async () => {
      const { result } = await pollAndCheck(plantedPartial(env), { mode }, ["secrets", "vulnerable-dependencies"]);
      expect(result.status).toBe("partial");
      const skipped = result.reports.find((r) => r.toolName === "vulnerable-dependencies")!;
      expect(skipped.status).toBe("skipped");
      expect(skipped.result.outcome).toBe("skipped");
      expect(result.session!.refund?.toolsRefunded).toEqual(["vulnerable-dependencies"]);
    });
  }

  test.concurrent("stops on completed, with the planted findings", async () => {
    const { result } = await pollAndCheck(plantedCompleted(env), {}, ["secrets", "merge-conflicts"]);
    expect(result.status).toBe("completed");
    const summary = result.session!.summary;
    expect(summary.bySeverity.critical).toBeGreaterThan(0);
    expect(summary.bySeverity.high).toBeGreaterThan(0);
    const secrets = result.reports.find((r) => r.toolName === "secrets")!;
    // The fixture's `livescan:ignore` line is listed as suppressed, not counted.
    const suppressed = secrets.result.findings.filter((f) => f.suppression && !f.suppression.expired);
    expect(suppressed.map((f) => [f.path, f.suppression!.kind])).toEqual([["config/settings.py", "inline"]]);
    expect(secrets.result.suppressed).toBe(1);
    expect(summary.suppressed).toBe(1);
    expect(secrets.findingsCount).toBe(secrets.result.findings.length - suppressed.length);
    expect(secrets.result.findings.some((f) => f.path && f.line)).toBe(true);
  });

  test.concurrent("stops on cancelled", async () => {
    const c = client();
    const started = await c.startSession(slowPartial(env));
    const polling = c.pollSession(started.sessionId, { interval: INTERVAL });
    const cancelled = await c.cancelSession(started.sessionId);
    expect(cancelled.sessionId).toBe(started.sessionId);
    const result = await polling;
    expect(result.status).toBe("cancelled");
    expect(result.session?.status).toBe("cancelled");
  });

  test.concurrent("an aborted signal stops polling at once", async () => {
    const rec = recordingFetch();
    const c = client(env.LIVESCAN_API_KEY, rec.fetch);
    const started = await c.startSession(slowPartial(env));
    const controller = new AbortController();
    const polling = c.pollSession(started.sessionId, { interval: INTERVAL, signal: controller.signal });
    await delay(INTERVAL * 2);
    controller.abort(new Error("stop"));
    await expect(polling).rejects.toThrow("stop");
    const count = rec.calls.length;
    await delay(INTERVAL * 3);
    expect(rec.calls.length).toBe(count);
  });
});

describe("REST calls", () => {
  test("the other reads", async () => {
    const c = client();
    const started = await c.startSession(plantedCompleted(env));
    const done = await c.pollSession(started.sessionId, { interval: 100 });
    const progress = await c.getProgress(started.sessionId);
    expect(progress).toMatchObject({ sessionId: started.sessionId, status: "completed", cursor: done.cursor });
    expect(progress.progress.percentage).toBe(100);
    const all = await c.getNewReports(started.sessionId, { after: 0 });
    expect(all.newReports.map((r) => r.toolName).sort()).toEqual(["merge-conflicts", "secrets"]);
    const none = await c.getNewReports(started.sessionId, { since: all.lastUpdated });
    expect(none.newReports).toEqual([]);
    const list = await c.listSessions(5);
    expect(list.sessions.some((s) => s.sessionId === started.sessionId)).toBe(true);
    const tools = await c.listTools();
    expect(tools.total).toBe(tools.tools.length);
    expect(tools.tools.find((t) => t.id === "secrets")).toMatchObject({ available: true, category: "security" });
    const account = await c.getAccount();
    expect(account.ledger.some((e) => e.kind === "reserve" && e.sessionId === started.sessionId)).toBe(true);
  });

  test("401 with a bad key", async () => {
    const err = await client("lsk_000000000000_" + "0".repeat(40))
      .listTools()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LivescanError);
    expect(err).toMatchObject({ status: 401, code: "unauthenticated" });
    expect((err as LivescanError).message).not.toContain("0".repeat(40));
  });

  test("402 with a key of an account without credits", async () => {
    const err = await client(env.LIVESCAN_POOR_API_KEY)
      .startSession(plantedCompleted(env))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LivescanError);
    expect(err).toMatchObject({ status: 402, code: "insufficient_credits", details: { balance: 0, required: 3 } });
  });

  test("404 for an unknown session, 400 for a bad request", async () => {
    const c = client();
    await expect(c.getSession("sess-doesnotexist")).rejects.toMatchObject({ status: 404, code: "not_found" });
    await expect(
      c.startSession({ target: { directory: `${env.LIVESCAN_FIXTURES}/dir-clean` }, tools: ["secrets"], maxConcurrent: 0 }),
    ).rejects.toMatchObject({ status: 400, code: "invalid_argument", details: { field: "maxConcurrent" } });
  });

  test("429 past the key's rate limit, with retryAfterMs", async () => {
    // The poor key's own bucket (the default limit: a burst of 200, then 20/s), so no other test waits.
    const c = client(env.LIVESCAN_POOR_API_KEY);
    let limited: LivescanError | undefined;
    for (let sent = 0; sent < 600 && !limited; sent += 100) {
      const answers = await Promise.all(
        Array.from({ length: 100 }, () => c.getAccount().then(() => undefined, (err: unknown) => err)),
      );
      limited = answers.find((a): a is LivescanError => a instanceof LivescanError && a.status === 429);
      for (const a of answers) if (a !== undefined && a !== limited) expect(a).toMatchObject({ status: 429 });
    }
    expect(limited, "no 429 after 600 requests in quick succession").toBeDefined();
    expect(limited).toMatchObject({ status: 429, code: "rate_limited" });
    // Milliseconds until the next token; the server truncates, so it can be 0 when under 1 ms remains.
    expect(limited!.retryAfterMs).toBeGreaterThanOrEqual(0);
    expect(limited!.retryAfterMs).toBeLessThanOrEqual(1000);
    expect(limited!.details["retryAfterMs"]).toBe(limited!.retryAfterMs);

    // pollSession waits out a 429 and tries again (here to learn the session does not exist).
    // Its first request goes out behind 100 others while the bucket is (nearly) empty.
    let calls: RecordedCall[] = [];
    for (let attempt = 0; attempt < 3 && calls[0]?.status !== 429; attempt++) {
      const rec = recordingFetch();
      const burst = Array.from({ length: 100 }, () => c.getAccount().catch(() => undefined));
      // Settled into a value at once: the poll can fail before the burst drains, and a rejection
      // nobody has handled yet is reported by the runner as an unhandled error.
      const polled = client(env.LIVESCAN_POOR_API_KEY, rec.fetch)
        .pollSession("sess-doesnotexist", { interval: 50 })
        .then((result) => result, (err: unknown) => err);
      await Promise.all(burst);
      expect(await polled).toMatchObject({ status: 404, code: "not_found" });
      calls = rec.calls;
    }
    // One or more 429s (while the burst still drains the bucket), each waited out, then the answer.
    const statuses = calls.map((call) => call.status);
    expect(statuses[0]).toBe(429);
    expect(statuses.at(-1)).toBe(404);
    expect(statuses.slice(0, -1).every((status) => status === 429)).toBe(true);
    for (let i = 1; i < calls.length; i++) {
      const previous = calls[i - 1]!.body as { error: { details: { retryAfterMs: number } } };
      expect(calls[i]!.at - calls[i - 1]!.at).toBeGreaterThanOrEqual(previous.error.details.retryAfterMs - 50);
    }
    // Let the bucket refill a little for the other tests that use this key.
    await delay(200);
  });

  test("no answer at all is a network_error", async () => {
    // A fetch that fails as a refused connection does, without sending anything.
    const refused = () => Promise.reject(new TypeError("fetch failed"));
    const c = new LivescanClient({ baseUrl: env.LIVESCAN_URL, apiKey: env.LIVESCAN_API_KEY, fetch: refused });
    await expect(c.listTools()).rejects.toMatchObject({ status: 0, code: "network_error" });
  });
});
