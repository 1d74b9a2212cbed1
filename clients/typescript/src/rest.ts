/**
 * LivescanClient: the REST API (`/api/...`) over `fetch`, and `pollSession`,
 * which follows a session with the three polling modes of the Sessions API
 * reference but always with the safe cursor: it feeds back the previous
 * response's `cursor` (`?after=`) or `lastUpdated` (`?since=`), never the
 * client's clock, and stops on every terminal status.
 */
import { LivescanError } from "./errors.js";
import {
  isTerminalStatus,
  type Account,
  type Progress,
  type Session,
  type SessionIncrement,
  type SessionList,
  type SessionProgress,
  type SessionStatus,
  type StartSessionRequest,
  type StartSessionResponse,
  type TerminalStatus,
  type ToolList,
  type ToolReport,
} from "./types.js";

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface LivescanClientOptions {
  /** The server, e.g. `http://127.0.0.1:8080`. Empty (the default) means the page's own origin. */
  baseUrl?: string;
  /** An API key, `lsk_...`; sent as `Authorization: Bearer <key>`. */
  apiKey: string;
  /** Replaces the global `fetch` (for tests, or to add instrumentation). */
  fetch?: FetchLike;
}

export interface RequestOptions {
  signal?: AbortSignal;
}

/** Where an incremental read starts: the previous response's `cursor` or its `lastUpdated`. */
export type IncrementalCursor = { after: number } | { since: string };

/**
 * How `pollSession` reads the session each tick:
 * - `incremental` (default): `?after=<cursor>` (or `?since=<lastUpdated>`): only new reports.
 * - `progress`: `?progress=true`, the cheapest; the reports come once, from one full read at the end.
 * - `full`: the whole report each tick; new finished reports are picked out by tool name.
 */
export type PollMode = "incremental" | "progress" | "full";

/** What every poll tells: status and progress, and the cursors of that answer. */
export interface PollUpdate {
  status: SessionStatus;
  progress: Progress;
  lastUpdated: string;
  cursor: number;
}

export interface PollOptions {
  mode?: PollMode;
  /** For `incremental`: feed back `cursor` as `?after=` (default, exact) or `lastUpdated` as `?since=`. */
  cursor?: "after" | "since";
  /** Start after this cursor (e.g. the `cursor` of the start response); default 0: every report. */
  after?: number;
  /** Start after this time (e.g. the `lastUpdated` of the start response); default the epoch. */
  since?: string;
  /** Milliseconds between polls; default 2000. */
  interval?: number;
  /** Stops polling; `pollSession` then rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Called once per finished tool report, in the order the tools finished. */
  onReport?: (report: ToolReport) => void;
  /** Called after every poll. */
  onProgress?: (update: PollUpdate) => void;
  /** Read the full session once at the end (default true; `progress` and `full` modes always have it). */
  fetchFinal?: boolean;
}

export interface PollResult extends PollUpdate {
  status: TerminalStatus;
  /** Every finished report, each once, in the order the tools finished. */
  reports: ToolReport[];
  /** The final full session, unless `fetchFinal` was false in `incremental` mode. */
  session?: Session;
}

const EPOCH = "1970-01-01T00:00:00.000Z";

export class LivescanClient {
  readonly baseUrl: string;
  readonly #apiKey: string;
  readonly #fetch: FetchLike | undefined;

  constructor(options: LivescanClientOptions) {
    if (!options.apiKey) throw new TypeError("LivescanClient: apiKey is required");
    this.baseUrl = (options.baseUrl ?? "").replace(/\/+$/, "");
    this.#apiKey = options.apiKey;
    this.#fetch = options.fetch;
  }

  /** `POST /api/sessions`. 402 (`insufficient_credits`) when the balance does not cover the tools. */
  startSession(request: StartSessionRequest, options?: RequestOptions): Promise<StartSessionResponse> {
    return this.#request("POST", "/api/sessions", options, request);
  }

  /** `GET /api/sessions/{id}`: the full report. */
  getSession(id: string, options?: RequestOptions): Promise<Session> {
    return this.#request("GET", sessionPath(id), options);
  }

  /** `GET /api/sessions/{id}?progress=true`: status and progress only. */
  getProgress(id: string, options?: RequestOptions): Promise<SessionProgress> {
    return this.#request("GET", `${sessionPath(id)}?progress=true`, options);
  }

  /**
   * `GET /api/sessions/{id}?after=N` or `?since=T`: the reports finished after
   * the cursor. Pass the previous response's `cursor` or `lastUpdated`.
   */
  getNewReports(id: string, cursor: IncrementalCursor, options?: RequestOptions): Promise<SessionIncrement> {
    const query =
      "after" in cursor ? `after=${cursor.after}` : `since=${encodeURIComponent(cursor.since)}`;
    return this.#request("GET", `${sessionPath(id)}?${query}`, options);
  }

  /** `POST /api/sessions/{id}/cancel`. */
  cancelSession(id: string, options?: RequestOptions): Promise<Session> {
    return this.#request("POST", `${sessionPath(id)}/cancel`, options);
  }

  /**
   * `GET /api/sessions?limit=N&before=ID`: your sessions, newest first; pass a
   * page's `nextBefore` as `before` for the next one.
   */
  listSessions(limit?: number, options?: RequestOptions & { before?: string }): Promise<SessionList> {
    const query = new URLSearchParams();
    if (limit !== undefined) query.set("limit", String(limit));
    if (options?.before !== undefined) query.set("before", options.before);
    const suffix = query.size > 0 ? `?${query}` : "";
    return this.#request("GET", `/api/sessions${suffix}`, options);
  }

  /** `GET /api/tools`: the catalog, with costs and availability. */
  listTools(options?: RequestOptions): Promise<ToolList> {
    return this.#request("GET", "/api/tools", options);
  }

  /** `GET /api/account`: balance and newest ledger entries. */
  getAccount(options?: RequestOptions): Promise<Account> {
    return this.#request("GET", "/api/account", options);
  }

  /**
   * Follows a session until it reaches any terminal status (`completed`,
   * `partial`, `failed`, `cancelled`), calling `onReport` once per finished
   * report and `onProgress` after each poll. A 429 waits for its
   * `retryAfterMs`; other errors reject with a LivescanError.
   */
  async pollSession(id: string, options: PollOptions = {}): Promise<PollResult> {
    const { signal, onReport, onProgress } = options;
    const mode = options.mode ?? "incremental";
    const interval = options.interval ?? 2000;
    const reports: ToolReport[] = [];
    const emit = (report: ToolReport) => {
      reports.push(report);
      onReport?.(report);
    };
    const seen = new Set<string>();
    let after = options.after ?? 0;
    let since = options.since ?? EPOCH;

    for (;;) {
      const view = await this.#retryRateLimited(signal, interval, () => {
        if (mode === "progress") return this.getProgress(id, { signal });
        if (mode === "full") return this.getSession(id, { signal });
        const cursor: IncrementalCursor = options.cursor === "since" ? { since } : { after };
        return this.getNewReports(id, cursor, { signal });
      });
      if (mode === "incremental") {
        for (const report of (view as SessionIncrement).newReports) emit(report);
      } else if (mode === "full") {
        for (const report of finishedReports(view as Session)) {
          if (!seen.has(report.toolName)) {
            seen.add(report.toolName);
            emit(report);
          }
        }
      }
      // The safe cursor: the answer's own position, never the client clock.
      after = view.cursor;
      since = view.lastUpdated;
      const update: PollUpdate = {
        status: view.status,
        progress: view.progress,
        lastUpdated: view.lastUpdated,
        cursor: view.cursor,
      };
      onProgress?.(update);

      if (isTerminalStatus(view.status)) {
        let session: Session | undefined;
        if (mode === "full") {
          session = view as Session;
        } else if (mode === "progress" || options.fetchFinal !== false) {
          session = await this.#retryRateLimited(signal, interval, () => this.getSession(id, { signal }));
        }
        if (mode === "progress" && session) {
          for (const report of finishedReports(session)) emit(report);
        }
        return { ...update, status: view.status, reports, ...(session ? { session } : {}) };
      }
      await sleep(interval, signal);
    }
  }

  async #retryRateLimited<T>(signal: AbortSignal | undefined, fallbackMs: number, call: () => Promise<T>): Promise<T> {
    for (;;) {
      try {
        return await call();
      } catch (err) {
        if (!(err instanceof LivescanError) || err.status !== 429) throw err;
        await sleep(err.retryAfterMs ?? fallbackMs, signal);
      }
    }
  }

  async #request<T>(method: string, path: string, options: RequestOptions | undefined, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.#apiKey}`,
      accept: "application/json",
    };
    const init: RequestInit = { method, headers };
    if (body !== undefined) {
      headers["content-type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    if (options?.signal) init.signal = options.signal;
    const doFetch = this.#fetch ?? ((input: string, i?: RequestInit) => globalThis.fetch(input, i));
    let response: Response;
    try {
      response = await doFetch(`${this.baseUrl}${path}`, init);
    } catch (err) {
      if (options?.signal?.aborted) throw options.signal.reason;
      throw new LivescanError({
        status: 0,
        code: "network_error",
        message: `${method} ${path}: ${err instanceof Error ? err.message : String(err)}`,
        cause: err,
      });
    }
    if (!response.ok) throw await LivescanError.fromResponse(response);
    return (await response.json()) as T;
  }
}

function sessionPath(id: string): string {
  return `/api/sessions/${encodeURIComponent(id)}`;
}

/** Reports that finished (completed, failed or skipped), in the order they finished. */
export function finishedReports(session: Session): ToolReport[] {
  return Object.values(session.toolReports)
    .filter((r) => r.status === "completed" || r.status === "failed" || r.status === "skipped")
    .sort((a, b) => (a.completedAt ?? "").localeCompare(b.completedAt ?? ""));
}

/** Waits `ms`, or rejects with the signal's reason as soon as it aborts (clearing the timer). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
