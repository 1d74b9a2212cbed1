/** gRPC-web (Connect) against the real server: WatchSession streaming and resume, and errors. */
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, test } from "vitest";
import {
  LivescanClient,
  LivescanError,
  createSessionClient,
  pb,
  watchSession,
  type SessionServiceClient,
} from "../src/index.js";
import { testEnv } from "./env.js";
import { SLOW_TOOLS, startSlowOverGrpc } from "./helpers.js";

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
      details: { balance: 0, required: 1 },
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
