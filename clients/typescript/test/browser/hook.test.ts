/**
 * useSessionPolling in headless Chromium. The page comes from vite's dev server, which
 * forwards the server's routes (vitest.config.ts), so the hook's default relative URLs
 * reach the real server same-origin, as in a dashboard served by livescan.
 */
import { act, waitFor } from "@testing-library/react";
import { afterEach, beforeAll, describe, expect, test, vi } from "vitest";
import { LivescanError, type ToolReport } from "../../src/index.js";
import { SLOW_TOOLS, delay, recordingFetch, slowPartial } from "../helpers.js";
import { INTERVAL, expectUnmountStopsPolling, renderPolling } from "../hook-helpers.js";
import { browserTestEnv } from "./env.js";

const env = browserTestEnv();

beforeAll(async () => {
  // A real browser, on the dev server's origin, not the server's: every request below is forwarded.
  expect(navigator.userAgent).toMatch(/Chrome\//);
  expect(location.origin).not.toBe(env.LIVESCAN_URL);
  const health = await fetch("/healthz");
  expect(health.status, "the dev server does not forward /healthz to LIVESCAN_URL").toBe(200);
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe("useSessionPolling in Chromium", () => {
  test("a slow session: progress advances, isComplete on partial with the full report, then polling stops", async () => {
    const rec = recordingFetch();
    const { result, history } = renderPolling({ apiKey: env.LIVESCAN_API_KEY, pollInterval: INTERVAL, fetch: rec.fetch });
    expect(result.current).toMatchObject({ session: null, progress: null, isComplete: false, isLoading: false, error: null });

    let sessionId: string | null = null;
    await act(async () => {
      sessionId = await result.current.startSession(slowPartial(env));
    });
    expect(result.current.error).toBeNull();
    expect(sessionId).toMatch(/^sess-/);
    expect(history.some((s) => s.isLoading)).toBe(true);

    await waitFor(() => expect(result.current.isComplete).toBe(true), { timeout: 15_000 });
    const callsAtEnd = rec.calls.length;
    const final = result.current;
    expect(final.error).toBeNull();
    expect(final.isLoading).toBe(false);
    expect(final.status).toBe("partial");
    expect(final.session?.status).toBe("partial");
    expect(final.session?.sessionId).toBe(sessionId);
    expect(Object.keys(final.session!.toolReports).sort()).toEqual([...SLOW_TOOLS].sort());
    expect(final.progress?.percentage).toBe(100);
    // Each report once, arriving over several polls, progress only going up.
    expect(final.reports.map((r: ToolReport) => r.toolName).sort()).toEqual([...SLOW_TOOLS].sort());
    const percentages = [...new Set(history.map((s) => s.progress?.percentage).filter((p) => p !== undefined))];
    expect(percentages.length).toBeGreaterThan(2);
    expect(percentages).toEqual([...percentages].sort((a, b) => a! - b!));
    // Relative (same-origin) URLs, all answered by the server: the POST, incremental polls, one full read.
    expect(rec.calls[0]).toMatchObject({ method: "POST", url: "/api/sessions", status: 202 });
    const polls = rec.calls.slice(1, -1);
    expect(polls.length).toBeGreaterThan(3);
    for (const call of polls) {
      expect(call.url).toMatch(/^\/api\/sessions\/sess-[^?]+\?after=\d+$/);
      expect(call.status).toBe(200);
    }
    expect(rec.calls.at(-1)).toMatchObject({ url: `/api/sessions/${sessionId}`, status: 200 });

    await delay(INTERVAL * 4);
    expect(rec.calls.length).toBe(callsAtEnd);
  });

  test("402: an account without credits surfaces a LivescanError and nothing polls", async () => {
    const rec = recordingFetch();
    const { result } = renderPolling({ apiKey: env.LIVESCAN_POOR_API_KEY, pollInterval: INTERVAL, fetch: rec.fetch });
    let returned: string | null = "unset";
    await act(async () => {
      returned = await result.current.startSession({
        target: { directory: `${env.LIVESCAN_FIXTURES}/dir-clean` },
        tools: ["secrets"],
      });
    });
    expect(returned).toBeNull();
    const error = result.current.error;
    expect(error).toBeInstanceOf(LivescanError);
    // 402, not 401: the key went through the dev server's proxy to the server.
    expect(error).toMatchObject({ status: 402, code: "insufficient_credits", details: { balance: 0, required: 2 } });
    expect(result.current).toMatchObject({ isLoading: false, isComplete: false, sessionId: null });
    await delay(INTERVAL * 3);
    expect(rec.calls.length).toBe(1);
  });

  test("unmount stops polling: no request, no timer and no render afterwards", async () => {
    await expectUnmountStopsPolling(env);
  });
});
