/**
 * WatchSession over gRPC-web from a page in headless Chromium, with the transport's default
 * baseUrl (the page's origin): the dev server forwards the gRPC-web path to the server.
 */
import { Code, type Interceptor } from "@connectrpc/connect";
import { describe, expect, test } from "vitest";
import { LivescanClient, LivescanError, createSessionClient, pb, watchSession } from "../../src/index.js";
import { SLOW_TOOLS, startSlowOverGrpc } from "../helpers.js";
import { browserTestEnv } from "./env.js";

const env = browserTestEnv();

/** Records every message of every server stream as it arrives, before the SDK sees it. */
function tapStreams() {
  const raw: pb.WatchSessionResponse[][] = [];
  const interceptor: Interceptor = (next) => async (request) => {
    const response = await next(request);
    if (!response.stream) return response;
    const messages: pb.WatchSessionResponse[] = [];
    raw.push(messages);
    const source = response.message;
    return {
      ...response,
      message: (async function* () {
        for await (const message of source) {
          messages.push(message as pb.WatchSessionResponse);
          yield message;
        }
      })(),
    };
  };
  return { raw, interceptor };
}

describe("gRPC-web from the page", () => {
  test("watchSession streams every report once, seqs without gaps, live, ending with sessionFinished", async () => {
    expect(location.origin).not.toBe(env.LIVESCAN_URL);
    const tap = tapStreams();
    const client = createSessionClient({ apiKey: env.LIVESCAN_API_KEY, interceptors: [tap.interceptor] });
    const sessionId = await startSlowOverGrpc(client, env);
    expect(sessionId).toMatch(/^sess-/);

    const rest = new LivescanClient({ apiKey: env.LIVESCAN_API_KEY });
    const reconnects: unknown[] = [];
    const messages: pb.WatchSessionResponse[] = [];
    let statusAtFirstReport: string | undefined;
    for await (const message of watchSession(client, sessionId, { onReconnect: (info) => reconnects.push(info) })) {
      messages.push(message);
      if (message.event.case === "toolFinished" && statusAtFirstReport === undefined) {
        // Streamed, not buffered by the proxy: the first report is here while the session still runs.
        statusAtFirstReport = (await rest.getProgress(sessionId)).status;
      }
    }

    // One stream, and the SDK passed on exactly what it carried.
    expect(reconnects).toEqual([]);
    expect(tap.raw.length).toBe(1);
    expect(tap.raw[0]).toEqual(messages);

    expect(messages[0]!.event.case).toBe("snapshot");
    const events = messages.filter((m) => m.event.case !== "heartbeat");
    for (let i = 1; i < events.length; i++) expect(events[i]!.seq).toBe(events[i - 1]!.seq + 1n);
    // Every report exactly once: those finished before the watch began are in the snapshot.
    const snapshot = messages[0]!.event.case === "snapshot" ? messages[0]!.event.value : undefined;
    const early = (snapshot?.toolReports ?? []).filter((r) => r.completedAt !== undefined).map((r) => r.toolName);
    const live = events.flatMap((m) => (m.event.case === "toolFinished" ? [m.event.value.toolName] : []));
    expect(live.length).toBeGreaterThan(0);
    expect([...early, ...live].sort()).toEqual([...SLOW_TOOLS].sort());
    const last = events.at(-1)!;
    expect(last.event.case).toBe("sessionFinished");
    if (last.event.case === "sessionFinished") expect(last.event.value.status).toBe(pb.SessionStatus.PARTIAL);
    expect(last.progress?.percentage).toBe(100);
    expect(statusAtFirstReport).toBe("running");

    // The same reports as the REST view, whose cursor is the last seq.
    const session = await rest.getSession(sessionId);
    expect(Object.keys(session.toolReports).sort()).toEqual([...SLOW_TOOLS].sort());
    expect(BigInt(session.cursor)).toBe(last.seq);
  });

  test("the key reaches the server: 402 and 401 with the REST code and details", async () => {
    const poor = await createSessionClient({ apiKey: env.LIVESCAN_POOR_API_KEY })
      .startSession({ target: { directory: `${env.LIVESCAN_FIXTURES}/dir-clean` }, tools: ["secrets"] })
      .catch((err: unknown) => LivescanError.fromUnknown(err));
    expect(poor).toMatchObject({
      status: 402,
      code: "insufficient_credits",
      grpcCode: Code.FailedPrecondition,
      details: { balance: 0, required: 2 },
    });
    const refused = await createSessionClient({ apiKey: "lsk_000000000000_" + "0".repeat(40) })
      .listTools({})
      .catch((err: unknown) => LivescanError.fromUnknown(err));
    expect(refused).toMatchObject({ status: 401, code: "unauthenticated", grpcCode: Code.Unauthenticated });
  });
});
