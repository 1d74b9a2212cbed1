/** Helpers for the useSessionPolling tests, in happy-dom (test/react.test.ts) and Chromium (test/browser/). */
import { act, renderHook, waitFor } from "@testing-library/react";
import { expect, vi } from "vitest";
import { recordingFetch, delay, slowPartial } from "./helpers.js";
import type { TestEnv } from "./env.js";
import { useSessionPolling, type UseSessionPollingOptions, type UseSessionPollingResult } from "../src/react.js";

/** An interval no other timer uses, to pick the hook's poll timers out. */
export const INTERVAL = 117;

/** Records the poll timers (those of INTERVAL ms) that are neither fired nor cleared. */
export function trackPollTimers() {
  const pending = new Set<unknown>();
  let created = 0;
  const realSet = globalThis.setTimeout;
  const realClear = globalThis.clearTimeout;
  const setSpy = vi.spyOn(globalThis, "setTimeout").mockImplementation(((
    handler: (...args: unknown[]) => void,
    ms?: number,
    ...args: unknown[]
  ) => {
    if (ms !== INTERVAL) return realSet(handler, ms, ...args);
    created++;
    const id: unknown = realSet(() => {
      pending.delete(id);
      handler(...args);
    }, ms);
    pending.add(id);
    return id;
  }) as unknown as typeof setTimeout);
  const clearSpy = vi.spyOn(globalThis, "clearTimeout").mockImplementation(((id: unknown) => {
    pending.delete(id);
    realClear(id as Parameters<typeof clearTimeout>[0]);
  }) as typeof clearTimeout);
  return {
    pending,
    created: () => created,
    restore() {
      setSpy.mockRestore();
      clearSpy.mockRestore();
    },
  };
}

/** Renders the hook, keeping every state it rendered with. */
export function renderPolling(options: UseSessionPollingOptions) {
  const history: UseSessionPollingResult[] = [];
  const rendered = renderHook(() => {
    const state = useSessionPolling(options);
    history.push(state);
    return state;
  });
  return { ...rendered, history };
}

/** Starts a slow session, unmounts mid-way: no request, no poll timer and no render afterwards. */
export async function expectUnmountStopsPolling(env: TestEnv): Promise<void> {
  const timers = trackPollTimers();
  const rec = recordingFetch();
  const { result, unmount, history } = renderPolling({
    apiKey: env.LIVESCAN_API_KEY,
    pollInterval: INTERVAL,
    fetch: rec.fetch,
  });
  await act(async () => {
    await result.current.startSession(slowPartial(env));
  });
  await waitFor(() => expect(timers.created()).toBeGreaterThan(1), { timeout: 5_000 });
  expect(result.current.isComplete).toBe(false);
  const renders = history.length;
  unmount();
  const callsAtUnmount = rec.calls.length;
  expect(timers.pending.size).toBe(0);
  await delay(INTERVAL * 4);
  expect(rec.calls.length).toBe(callsAtUnmount);
  expect(timers.pending.size).toBe(0);
  expect(history.length).toBe(renders);
  timers.restore();
}
