/** gRPC-web (Connect) against the real server: WatchSession streaming and resume, and errors. */
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { describe, expect, test } from "vitest";
import {
  CATEGORY_NAMES,
  LivescanClient,
  LivescanError,
  categoryFromName,
  createSessionClient,
  pb,
  reports,
  startSession,
  watchSession,
  type Category,
  type SessionServiceClient,
} from "../src/index.js";
import { testEnv } from "./env.js";
import { SLOW_TOOLS, delay, startSlowOverGrpc } from "./helpers.js";

const env = testEnv();

type WatchMessage = pb.WatchSessionResponse;

function grpc(apiKey = env.LIVESCAN_API_KEY, fetch?: typeof globalThis.fetch): SessionServiceClient {
  return createSessionClient({ baseUrl: env.LIVESCAN_URL, apiKey, ...(fetch ? { fetch } : {}) });
}

/** Starts the slow partial session over gRPC-web (URL tools finishing ~400 ms apart). */
async function startSlow(client: SessionServiceClient): Promise<string> {
  const sessionId = await startSlowOverGrpc(client, env);
  expect(sessionId).toMatch(/^sess-/);
  return sessionId;
}

const QUICK_TOOLS = ["secrets", "vulnerable-dependencies"];

/** Starts dir-planted with a tool that cannot run here: ends partial within a few hundred ms. */
async function startQuick(client: SessionServiceClient): Promise<string> {
  const started = await client.startSession({
    target: { directory: `${env.LIVESCAN_FIXTURES}/dir-planted` },
    tools: QUICK_TOOLS,
  });
  return started.sessionId;
}

/** Checks a whole watch: each event once, seqs gap-free, every tool's report, ending with session_finished. */
function expectCompleteWatch(messages: WatchMessage[], firstSeq?: bigint) {
  const events = messages.filter((m) => m.event.case !== "heartbeat");
  const seqs = events.map((m) => m.seq);
  if (firstSeq !== undefined) expect(seqs[0]).toBe(firstSeq);
  for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBe(seqs[i - 1]! + 1n);
  const finished = events.flatMap((m) => (m.event.case === "toolFinished" ? [m.event.value] : []));
  expect(finished.map((r) => r.toolName).sort()).toEqual([...SLOW_TOOLS].sort());
  for (const report of finished) expect(report.completedAt).toBeDefined();
  const last = events.at(-1)!;
  expect(last.event.case).toBe("sessionFinished");
  if (last.event.case === "sessionFinished") expect(last.event.value.status).toBe(pb.SessionStatus.PARTIAL);
  expect(last.progress?.percentage).toBe(100);
  return { events, finished };
}

/**
 * A fetch for the transport that passes the real answers through and can cut
 * the body of the current stream mid-way, as a dropped connection would.
 */
function droppableFetch() {
  let current: { controller: ReadableStreamDefaultController<Uint8Array>; reader: ReadableStreamDefaultReader<Uint8Array> } | undefined;
  let calls = 0;
  const fetchImpl: typeof globalThis.fetch = async (input, init) => {
    calls++;
    const response = await globalThis.fetch(input, init);
    if (!response.body) return response;
    const reader = response.body.getReader();
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        current = { controller, reader };
      },
      async pull(controller) {
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    });
    return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
  };
  return {
    fetch: fetchImpl,
    calls: () => calls,
    drop() {
      const c = current!;
      c.controller.error(new TypeError("connection reset (dropped by the test)"));
      void c.reader.cancel();
    },
  };
}

describe("WatchSession over gRPC-web", () => {
  test.concurrent("streams a snapshot, each tool report as it finishes, and ends after session_finished", async () => {
    const client = grpc();
    const sessionId = await startSlow(client);
    const received: { message: WatchMessage; at: number }[] = [];
    for await (const message of watchSession(client, sessionId)) received.push({ message, at: Date.now() });
    const messages = received.map((r) => r.message);
    expect(messages[0]!.event.case).toBe("snapshot");
    const { finished } = expectCompleteWatch(messages);
    // Pushed live: the reports arrived spread over time, not in one burst at the end.
    const times = received.filter((r) => r.message.event.case === "toolFinished").map((r) => r.at);
    expect(times.at(-1)! - times[0]!).toBeGreaterThan(600);
    // The same reports as the REST view.
    const session = await new LivescanClient({ baseUrl: env.LIVESCAN_URL, apiKey: env.LIVESCAN_API_KEY }).getSession(sessionId);
    for (const report of finished) {
      expect(session.toolReports[report.toolName]?.findingsCount).toBe(report.findingsCount);
      expect(Date.parse(session.toolReports[report.toolName]!.completedAt!)).toBe(
        Number(report.completedAt!.seconds) * 1000 + Math.floor(report.completedAt!.nanos / 1e6),
      );
    }
    expect(BigInt(session.cursor)).toBe(messages.at(-1)!.seq);
  });

  test.concurrent("abort mid-session, then resume with afterSeq: exactly once, no gaps", async () => {
    const client = grpc();
    const sessionId = await startSlow(client);
    const first: WatchMessage[] = [];
    const controller = new AbortController();
    try {
      for await (const message of client.watchSession({ sessionId }, { signal: controller.signal })) {
        first.push(message);
        if (message.event.case === "toolFinished") controller.abort();
      }
    } catch (err) {
      expect(ConnectError.from(err).code).toBe(Code.Canceled);
    }
    expect(first.at(-1)!.event.case).toBe("toolFinished");
    const lastSeq = first.filter((m) => m.event.case !== "heartbeat").at(-1)!.seq;

    const rest: WatchMessage[] = [];
    for await (const message of watchSession(client, sessionId, { afterSeq: lastSeq })) rest.push(message);
    expect(rest.some((m) => m.event.case === "snapshot")).toBe(false);
    expect(rest.filter((m) => m.event.case !== "heartbeat")[0]!.seq).toBe(lastSeq + 1n);
    const { finished } = expectCompleteWatch([...first, ...rest]);
    expect(finished.filter((r) => first.some((m) => m.event.value === r)).length).toBeGreaterThanOrEqual(1);
    expect(finished.filter((r) => rest.some((m) => m.event.value === r)).length).toBeGreaterThanOrEqual(1);
  });

  test.concurrent("watchSession reconnects by itself after the connection drops", async () => {
    const drops = droppableFetch();
    const client = grpc(env.LIVESCAN_API_KEY, drops.fetch);
    const sessionId = await startSlow(grpc());
    const reconnects: (bigint | undefined)[] = [];
    const messages: WatchMessage[] = [];
    let dropped = false;
    for await (const message of watchSession(client, sessionId, {
      retryDelayMs: 50,
      onReconnect: ({ afterSeq, error }) => {
        reconnects.push(afterSeq);
        expect(error).toBeInstanceOf(LivescanError);
        expect(error).toMatchObject({ status: 0, code: "network_error" });
      },
    })) {
      messages.push(message);
      if (!dropped && message.event.case === "toolFinished") {
        dropped = true;
        drops.drop();
      }
    }
    expect(reconnects.length).toBe(1);
    expect(drops.calls()).toBe(2);
    expect(messages[0]!.event.case).toBe("snapshot");
    expectCompleteWatch(messages);
    // It resumed right after the last message it had yielded before the drop.
    const resumedFrom = reconnects[0]!;
    expect(messages.some((m) => m.seq === resumedFrom && m.event.case !== "heartbeat")).toBe(true);
    expect(messages.filter((m) => m.event.case === "snapshot").length).toBe(1);
  });

  test("a finished session: the snapshot is the only message; resuming at its end yields nothing", async () => {
    const client = grpc();
    const sessionId = await startQuick(client);
    const all: WatchMessage[] = [];
    for await (const message of watchSession(client, sessionId)) all.push(message);
    const final = all.at(-1)!.seq;
    const snapshot: WatchMessage[] = [];
    for await (const message of watchSession(client, sessionId)) snapshot.push(message);
    expect(snapshot.length).toBe(1);
    expect(snapshot[0]!.event.case).toBe("snapshot");
    expect(snapshot[0]!.seq).toBe(final);
    const nothing: WatchMessage[] = [];
    for await (const message of watchSession(client, sessionId, { afterSeq: final })) nothing.push(message);
    expect(nothing).toEqual([]);
  });

  test("server errors end the watch without retries, as LivescanErrors", async () => {
    const drops = droppableFetch();
    const client = grpc(env.LIVESCAN_API_KEY, drops.fetch);
    const notFound = async () => {
      for await (const _ of watchSession(client, "sess-doesnotexist")) void _;
    };
    await expect(notFound()).rejects.toMatchObject({ status: 404, code: "not_found", grpcCode: Code.NotFound });
    expect(drops.calls()).toBe(1);
    const badKey = async () => {
      for await (const _ of watchSession(grpc("lsk_000000000000_" + "0".repeat(40)), "sess-doesnotexist")) void _;
    };
    await expect(badKey()).rejects.toMatchObject({ status: 401, code: "unauthenticated" });
  });
});

describe("unary calls over gRPC-web", () => {
  test("401 and 402 carry the REST code and details", async () => {
    const unauthenticated = await grpc("lsk_000000000000_" + "0".repeat(40))
      .listTools({})
      .catch((err: unknown) => LivescanError.fromUnknown(err));
    expect(unauthenticated).toMatchObject({ status: 401, code: "unauthenticated", grpcCode: Code.Unauthenticated });

    const poor = await grpc(env.LIVESCAN_POOR_API_KEY)
      .startSession({ target: { directory: `${env.LIVESCAN_FIXTURES}/dir-clean` }, tools: ["secrets"] })
      .catch((err: unknown) => LivescanError.fromUnknown(err));
    expect(poor).toMatchObject({
      status: 402,
      code: "insufficient_credits",
      grpcCode: Code.FailedPrecondition,
      details: { balance: 0, required: 2 },
    });
  });

  test("GetSession views and GetAccount", async () => {
    const client = grpc();
    const sessionId = await startQuick(client);
    for await (const _ of watchSession(client, sessionId)) void _;
    const progress = await client.getSession({ sessionId, view: pb.View.PROGRESS });
    expect(progress.session?.status).toBe(pb.SessionStatus.PARTIAL);
    expect(progress.session?.toolReports).toEqual([]);
    const increment = await client.getSession({ sessionId, view: pb.View.INCREMENTAL, afterSeq: 0n });
    expect(increment.newReports.map((r) => r.toolName).sort()).toEqual([...QUICK_TOOLS].sort());
    const account = await client.getAccount({});
    expect(account.ledger.some((e) => e.sessionId === sessionId && e.kind === pb.LedgerKind.REFUND)).toBe(true);
  });
});

/** Waits until at least one tool of the session has finished; returns how many had (and that it still runs). */
async function waitHalfDone(client: SessionServiceClient, sessionId: string): Promise<number> {
  for (;;) {
    const { session } = await client.getSession({ sessionId, view: pb.View.PROGRESS });
    const p = session!.progress!;
    const done = p.completed + p.failed + p.skipped;
    if (done > 0) {
      expect(done).toBeLessThan(p.total);
      return done;
    }
    await delay(40);
  }
}

/** The session's final reports (full view), keyed by tool. */
async function finalReports(client: SessionServiceClient, sessionId: string): Promise<Map<string, pb.ToolReport>> {
  const { session } = await client.getSession({ sessionId, view: pb.View.FULL });
  return new Map(session!.toolReports.map((r) => [r.toolName, r]));
}

/** Each report once, and the same reports (tool, status, findings) as the session's final toolReports. */
async function expectEveryReportOnce(client: SessionServiceClient, sessionId: string, yielded: pb.ToolReport[]) {
  const names = yielded.map((r) => r.toolName);
  expect(new Set(names).size).toBe(names.length);
  const final = await finalReports(client, sessionId);
  expect([...names].sort()).toEqual([...final.keys()].sort());
  for (const report of yielded) {
    const last = final.get(report.toolName)!;
    expect(report.status).toBe(last.status);
    expect(report.findingsCount).toBe(last.findingsCount);
    expect(report.completedAt).toEqual(last.completedAt);
  }
}

describe("reports() over gRPC-web", () => {
  test.concurrent("a session half done when it starts: the snapshot's finished reports, then the rest, each once", async () => {
    // Records the raw stream, to see what the snapshot held.
    const snapshots: pb.Session[] = [];
    const tap: Interceptor = (next) => async (request) => {
      const response = await next(request);
      if (!response.stream) return response;
      const source = response.message;
      return {
        ...response,
        message: (async function* () {
          for await (const message of source) {
            const m = message as WatchMessage;
            if (m.event.case === "snapshot") snapshots.push(m.event.value);
            yield message;
          }
        })(),
      };
    };
    const client = createSessionClient({ baseUrl: env.LIVESCAN_URL, apiKey: env.LIVESCAN_API_KEY, interceptors: [tap] });
    const sessionId = await startSlow(client);
    const doneBefore = await waitHalfDone(client, sessionId);
    const yielded: pb.ToolReport[] = [];
    for await (const report of reports(client, sessionId)) yielded.push(report);

    expect(yielded.length).toBe(SLOW_TOOLS.length);
    await expectEveryReportOnce(client, sessionId, yielded);
    // The snapshot held some finished reports and some still to come: those came first, once.
    expect(snapshots.length).toBe(1);
    const inSnapshot = snapshots[0]!.toolReports.filter((r) => r.completedAt !== undefined).map((r) => r.toolName);
    expect(inSnapshot.length).toBeGreaterThanOrEqual(doneBefore);
    expect(inSnapshot.length).toBeLessThan(SLOW_TOOLS.length);
    expect(yielded.slice(0, inSnapshot.length).map((r) => r.toolName).sort()).toEqual([...inSnapshot].sort());
    // The ones that had finished came first (from the snapshot), then the live ones.
    const finishedAt = yielded.map((r) => Number(r.completedAt!.seconds) * 1e9 + r.completedAt!.nanos);
    expect(finishedAt).toEqual([...finishedAt].sort((a, b) => a - b));
    expect(doneBefore).toBeGreaterThanOrEqual(1);
    const { session } = await client.getSession({ sessionId, view: pb.View.PROGRESS });
    expect(session!.status).toBe(pb.SessionStatus.PARTIAL);

    // Once it has finished: the same reports, all from the snapshot, and the iterator ends.
    const again: pb.ToolReport[] = [];
    for await (const report of reports(client, sessionId)) again.push(report);
    expect(again.map((r) => r.toolName)).toEqual(yielded.map((r) => r.toolName));
  });

  test.concurrent("across a dropped connection: no report repeated or lost", async () => {
    const drops = droppableFetch();
    const client = grpc(env.LIVESCAN_API_KEY, drops.fetch);
    const sessionId = await startSlow(grpc());
    const doneBefore = await waitHalfDone(grpc(), sessionId);
    const reconnects: (bigint | undefined)[] = [];
    const yielded: pb.ToolReport[] = [];
    for await (const report of reports(client, sessionId, {
      retryDelayMs: 50,
      onReconnect: ({ afterSeq }) => reconnects.push(afterSeq),
    })) {
      yielded.push(report);
      // Cut the stream right after the first report that came live (not from the snapshot).
      if (yielded.length === doneBefore + 1 && reconnects.length === 0) drops.drop();
    }
    expect(reconnects.length).toBe(1);
    expect(reconnects[0]).toBeDefined();
    expect(drops.calls()).toBe(2);
    expect(yielded.length).toBe(SLOW_TOOLS.length);
    await expectEveryReportOnce(grpc(), sessionId, yielded);
  });
});

describe("startSession() with REST category names", () => {
  test("categoryFromName maps the REST spellings and refuses anything else, naming it", () => {
    expect(categoryFromName("code-quality")).toBe(pb.Category.CODE_QUALITY);
    expect(CATEGORY_NAMES.map((name) => categoryFromName(name))).toEqual([
      pb.Category.SECURITY,
      pb.Category.CODE_QUALITY,
      pb.Category.ACCESSIBILITY,
      pb.Category.PERFORMANCE,
    ]);
    expect(categoryFromName(pb.Category.SECURITY)).toBe(pb.Category.SECURITY);
    expect(() => categoryFromName("code_quality")).toThrow(TypeError);
    expect(() => categoryFromName("code_quality")).toThrow(
      'unknown category "code_quality"; valid: security, code-quality, accessibility, performance',
    );
    expect(() => categoryFromName(pb.Category.UNSPECIFIED)).toThrow(/unknown category 0/);
    expect(() => categoryFromName("toString")).toThrow(/unknown category "toString"/);
  });

  test('"code-quality" starts a session of that category over gRPC', async () => {
    const client = grpc();
    const started = await startSession(client, {
      target: { directory: `${env.LIVESCAN_FIXTURES}/dir-planted` },
      categories: ["code-quality"],
    });
    expect(started.sessionId).toMatch(/^sess-/);
    const tools = started.session!.toolReports;
    expect(tools.length).toBeGreaterThan(0);
    expect(tools.map((r) => r.toolName)).toContain("merge-conflicts");
    for (const report of tools) expect(report.category).toBe(pb.Category.CODE_QUALITY);
    // The same tools as the REST API picks for that name.
    const rest = new LivescanClient({ baseUrl: env.LIVESCAN_URL, apiKey: env.LIVESCAN_API_KEY });
    const viaRest = await rest.startSession({
      target: { directory: `${env.LIVESCAN_FIXTURES}/dir-planted` },
      categories: ["code-quality"],
    });
    const restSession = await rest.getSession(viaRest.sessionId);
    expect(tools.map((r) => r.toolName).sort()).toEqual(Object.keys(restSession.toolReports).sort());
    for (const sessionId of [started.sessionId, viaRest.sessionId]) {
      for await (const _ of watchSession(client, sessionId)) void _;
    }
  });

  test("an unknown category name rejects, naming it, before any request", async () => {
    const drops = droppableFetch();
    const client = grpc(env.LIVESCAN_API_KEY, drops.fetch);
    const attempt = startSession(client, {
      target: { directory: `${env.LIVESCAN_FIXTURES}/dir-planted` },
      categories: ["security", "quality" as Category],
    });
    await expect(attempt).rejects.toThrow(TypeError);
    await expect(attempt).rejects.toThrow(/unknown category "quality"; valid: security, code-quality/);
    expect(drops.calls()).toBe(0);
  });
});
