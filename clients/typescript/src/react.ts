/**
 * useSessionPolling: a React hook that starts a scan and follows it over REST
 * (`@livescan/client/react`). Unlike the Sessions API reference's sample it
 * polls the incremental view with the safe cursor (the previous answer's
 * `cursor`, never the client clock), stops on every terminal status
 * (`partial` included), reads the full report once at the end, surfaces 401
 * and 402 as a LivescanError, and stops on unmount (the pending request is
 * aborted, the timer cleared, no state is set afterwards).
 */
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { LivescanError } from "./errors.js";
import { LivescanClient, type FetchLike } from "./rest.js";
import type { Progress, Session, SessionStatus, StartSessionRequest, Target, ToolReport } from "./types.js";

export interface UseSessionPollingOptions {
  /** The server; empty (the default) means the page's own origin. */
  baseUrl?: string;
  apiKey: string;
  /** Milliseconds between polls; default 2000. */
  pollInterval?: number;
  /** Replaces the global `fetch`. */
  fetch?: FetchLike;
  /** Which safe cursor to feed back: `after` (default) or `since`. */
  cursor?: "after" | "since";
}

export interface UseSessionPollingResult {
  /** The session being followed, once started. */
  sessionId: string | null;
  /** The full final report, set when the session finished (with `isComplete`). */
  session: Session | null;
  status: SessionStatus | null;
  progress: Progress | null;
  /** Finished tool reports so far, each once, in the order they finished. */
  reports: ToolReport[];
  /** True once the session reached any terminal status and its full report is in `session`. */
  isComplete: boolean;
  /** True from `startSession` until the first poll answers (or an error). */
  isLoading: boolean;
  /** A LivescanError for server answers (401, 402, 404, ...); polling stops on any error. */
  error: LivescanError | Error | null;
  /** Starts a session (a full request or just its target) and follows it; resolves to its id, or null on error. */
  startSession: (input: StartSessionRequest | Target) => Promise<string | null>;
  /** Stops polling (the session itself keeps running). */
  stop: () => void;
}

interface State {
  sessionId: string | null;
  session: Session | null;
  status: SessionStatus | null;
  progress: Progress | null;
  reports: ToolReport[];
  isComplete: boolean;
  isLoading: boolean;
  error: LivescanError | Error | null;
}

const INITIAL: State = {
  sessionId: null,
  session: null,
  status: null,
  progress: null,
  reports: [],
  isComplete: false,
  isLoading: false,
  error: null,
};

export function useSessionPolling(options: UseSessionPollingOptions): UseSessionPollingResult {
  const { baseUrl, apiKey, fetch, pollInterval = 2000, cursor = "after" } = options;
  const client = useMemo(
    () => new LivescanClient({ apiKey, ...(baseUrl ? { baseUrl } : {}), ...(fetch ? { fetch } : {}) }),
    [baseUrl, apiKey, fetch],
  );
  const [state, setState] = useState<State>(INITIAL);
  // The controller of the current run; aborting it cancels the pending request and timer.
  const run = useRef<AbortController | null>(null);
  const mounted = useRef(false);

  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
      run.current?.abort();
      run.current = null;
    };
  }, []);

  const stop = useCallback(() => {
    run.current?.abort();
    run.current = null;
    if (mounted.current) setState((s) => ({ ...s, isLoading: false }));
  }, []);

  const startSession = useCallback(
    async (input: StartSessionRequest | Target): Promise<string | null> => {
      if (!mounted.current) return null;
      run.current?.abort();
      const controller = new AbortController();
      run.current = controller;
      const { signal } = controller;
      // Every update is dropped once this run was stopped, replaced or unmounted.
      const update = (change: (s: State) => State) => {
        if (!signal.aborted) setState(change);
      };
      const fail = (err: unknown) => {
        if (signal.aborted) return;
        update((s) => ({ ...s, isLoading: false, error: err instanceof Error ? err : new Error(String(err)) }));
        if (run.current === controller) run.current = null;
      };
      const request: StartSessionRequest = "target" in input ? input : { target: input };

      setState({ ...INITIAL, isLoading: true });
      let sessionId: string;
      let after: number;
      let since: string;
      try {
        const started = await client.startSession(request, { signal });
        ({ sessionId, cursor: after, lastUpdated: since } = started);
      } catch (err) {
        fail(err);
        return null;
      }
      if (signal.aborted) return sessionId;
      update((s) => ({ ...s, sessionId }));

      client
        .pollSession(sessionId, {
          mode: "incremental",
          cursor,
          after,
          since,
          interval: pollInterval,
          signal,
          onReport: (report) => update((s) => ({ ...s, reports: [...s.reports, report] })),
          onProgress: (u) => update((s) => ({ ...s, status: u.status, progress: u.progress, isLoading: false })),
        })
        .then((result) => {
          update((s) => ({
            ...s,
            session: result.session ?? null,
            status: result.status,
            progress: result.progress,
            isComplete: true,
            isLoading: false,
          }));
          if (run.current === controller) run.current = null;
        }, fail);
      return sessionId;
    },
    [client, pollInterval, cursor],
  );

  return { ...state, startSession, stop };
}
