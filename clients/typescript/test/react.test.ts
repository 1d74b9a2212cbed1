// @vitest-environment happy-dom
/**
 * useSessionPolling in a browser-like page (happy-dom) whose origin is the
 * server's, as for a dashboard served from the same origin: the hook uses the
 * default (relative) baseUrl, and requests go to the real server.
 */
import { act, waitFor } from "@testing-library/react";
import { afterEach, beforeAll, describe, expect, test, vi } from "vitest";
import { LivescanError, createSessionClient, watchSession, type ToolReport } from "../src/index.js";
import { testEnv } from "./env.js";
import { SLOW_TOOLS, delay, recordingFetch, slowPartial, startSlowOverGrpc } from "./helpers.js";
import { INTERVAL, expectUnmountStopsPolling, renderPolling } from "./hook-helpers.js";

const env = testEnv();

beforeAll(() => {
  (window as unknown as { happyDOM: { setURL(url: string): void } }).happyDOM.setURL(`${env.LIVESCAN_URL}/dashboard`);
  expect(location.origin).toBe(env.LIVESCAN_URL);
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe("useSessionPolling", () => {
  test("starts a scan, progress advances, completes on partial with the full report, then stops", async () => {
    const rec = recordingFetch();
    const { result, history } = renderPolling({ apiKey: env.LIVESCAN_API_KEY, pollInterval: INTERVAL, fetch: rec.fetch });
    expect(result.current).toMatchObject({ session: null, progress: null, isComplete: false, isLoading: false, error: null });

    let sessionId: string | null = null;
    await act(async () => {
      sessionId = await result.current.startSession(slowPartial(env));
    });
    expect(sessionId).toMatch(/^sess-/);
    expect(result.current.sessionId).toBe(sessionId);
    expect(history.some((s) => s.isLoading)).toBe(true);

    await waitFor(() => expect(result.current.isComplete).toBe(true), { timeout: 10_000 });
    const callsAtEnd = rec.calls.length;
    const final = result.current;
    expect(final.error).toBeNull();
    expect(final.isLoading).toBe(false);
    expect(final.status).toBe("partial");
    expect(final.session?.status).toBe("partial");
    expect(Object.keys(final.session!.toolReports).sort()).toEqual([...SLOW_TOOLS].sort());
    expect(final.progress?.percentage).toBe(100);
    // Each report once, in order, arriving over several polls.
    expect(final.reports.map((r: ToolReport) => r.toolName).sort()).toEqual([...SLOW_TOOLS].sort());
    const percentages = [...new Set(history.map((s) => s.progress?.percentage).filter((p) => p !== undefined))];
    expect(percentages.length).toBeGreaterThan(2);
    expect(percentages).toEqual([...percentages].sort((a, b) => a! - b!));
    // Relative URLs (same origin); incremental polls with the safe cursor; one full read at the end.
    expect(rec.calls[0]).toMatchObject({ method: "POST", url: "/api/sessions" });
    const polls = rec.calls.slice(1, -1);
    expect(polls.length).toBeGreaterThan(3);
    for (const call of polls) expect(call.url).toMatch(/^\/api\/sessions\/sess-[^?]+\?after=\d+$/);
    expect(rec.calls.at(-1)!.url).toBe(`/api/sessions/${sessionId}`);

    await delay(INTERVAL * 4);
    expect(rec.calls.length).toBe(callsAtEnd);
  });

  test("402: an account without credits surfaces a LivescanError and nothing polls", async () => {
    const rec = recordingFetch();
    const { result } = renderPolling({ apiKey: env.LIVESCAN_POOR_API_KEY, pollInterval: INTERVAL, fetch: rec.fetch });
    let returned: string | null = "unset";
    await act(async () => {
      returned = await result.current.startSession({ directory: `${env.LIVESCAN_FIXTURES}/dir-clean` });
    });
    expect(returned).toBeNull();
    const error = result.current.error;
    expect(error).toBeInstanceOf(LivescanError);
    expect(error).toMatchObject({ status: 402, code: "insufficient_credits", details: { balance: 0 } });
    // Without a tool list every directory tool is selected: their total cost.
    expect((error as LivescanError).details["required"]).toBeGreaterThan(1);
    expect(result.current).toMatchObject({ isLoading: false, isComplete: false, sessionId: null });
    await delay(INTERVAL * 3);
    expect(rec.calls.length).toBe(1);
  });

  test("401: a refused key surfaces a LivescanError", async () => {
    const { result } = renderPolling({ apiKey: "lsk_000000000000_" + "0".repeat(40), pollInterval: INTERVAL });
    await act(async () => {
      await result.current.startSession(slowPartial(env));
    });
    expect(result.current.error).toBeInstanceOf(LivescanError);
    expect(result.current.error).toMatchObject({ status: 401, code: "unauthenticated" });
    expect(result.current.isLoading).toBe(false);
  });

  test("unmount stops polling: no request and no timer afterwards", async () => {
    await expectUnmountStopsPolling(env);
  });

  test("stop() ends polling but keeps what arrived", async () => {
    const rec = recordingFetch();
    const { result } = renderPolling({ apiKey: env.LIVESCAN_API_KEY, pollInterval: INTERVAL, fetch: rec.fetch });
    await act(async () => {
      await result.current.startSession(slowPartial(env));
    });
    await waitFor(() => expect(result.current.progress).not.toBeNull(), { timeout: 5_000 });
    act(() => result.current.stop());
    const count = rec.calls.length;
    await delay(INTERVAL * 4);
    expect(rec.calls.length).toBe(count);
    expect(result.current).toMatchObject({ isComplete: false, isLoading: false, error: null, session: null });
    expect(result.current.progress).not.toBeNull();
  });

  test("startSession again replaces the previous run", async () => {
    const rec = recordingFetch();
    const { result } = renderPolling({ apiKey: env.LIVESCAN_API_KEY, pollInterval: INTERVAL, fetch: rec.fetch });
    let first: string | null = null;
    await act(async () => {
      first = await result.current.startSession(slowPartial(env));
    });
    let second: string | null = null;
    await act(async () => {
      second = await result.current.startSession({
        target: { directory: `${env.LIVESCAN_FIXTURES}/dir-planted` },
        tools: ["secrets", "merge-conflicts"],
      });
    });
    expect(second).not.toBe(first);
    await waitFor(() => expect(result.current.isComplete).toBe(true), { timeout: 10_000 });
    expect(result.current.session?.sessionId).toBe(second);
    expect(result.current.status).toBe("completed");
    const count = rec.calls.length;
    await delay(INTERVAL * 4);
    expect(rec.calls.length).toBe(count);
    // The first run stopped when the second started: none of its requests after the second POST.
    const secondPost = rec.calls.findLastIndex((c) => c.method === "POST");
    expect(secondPost).toBeGreaterThan(0);
    expect(rec.calls.slice(secondPost).filter((c) => c.url.includes(first!))).toEqual([]);
  });
});

test("gRPC-web from the page: watchSession with the default baseUrl (the page's origin)", async () => {
  const client = createSessionClient({ apiKey: env.LIVESCAN_API_KEY });
  const sessionId = await startSlowOverGrpc(client, env);
  const finished: string[] = [];
  let last = "";
  for await (const message of watchSession(client, sessionId)) {
    if (message.event.case === "toolFinished") finished.push(message.event.value.toolName);
    last = message.event.case ?? "";
  }
  expect(finished.sort()).toEqual([...SLOW_TOOLS].sort());
  expect(last).toBe("sessionFinished");
});
