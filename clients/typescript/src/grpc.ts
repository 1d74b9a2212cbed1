/**
 * gRPC-web access to SessionService (generated in ./gen) with Connect:
 * a transport that adds the API key; `watchSession`, an async iterator
 * over WatchSession messages that resumes after a dropped connection with
 * `afterSeq` (no duplicates, no gaps) and ends after `session_finished`;
 * `reports`, the finished tool reports of a session on top of it; and
 * `startSession` / `categoryFromName`, which take the REST category names.
 * Works in browsers (same origin as the server) and in Node 20+ (fetch).
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createClient,
  type CallOptions,
  type Client,
  type Interceptor,
  type Transport,
} from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { LivescanError } from "./errors.js";
import { sleep } from "./rest.js";
import type { Category as CategoryName } from "./types.js";
import {
  Category,
  SessionService,
  SessionStatus,
  ToolStatus,
  type StartSessionRequest,
  type StartSessionRequestSchema,
  type StartSessionResponse,
  type ToolReport,
  type WatchSessionResponse,
} from "./gen/livescan/v1/session_service_pb.js";

export type SessionServiceClient = Client<typeof SessionService>;

/** Adds `authorization: Bearer <apiKey>` to every call. */
export function apiKeyInterceptor(apiKey: string): Interceptor {
  return (next) => async (request) => {
    request.header.set("authorization", `Bearer ${apiKey}`);
    return next(request);
  };
}

export interface LivescanTransportOptions {
  /** The server, e.g. `http://127.0.0.1:8080`; defaults to the page's origin in a browser. */
  baseUrl?: string;
  apiKey: string;
  /** Replaces the global `fetch`. */
  fetch?: typeof globalThis.fetch;
  /** More interceptors, run after the API-key one. */
  interceptors?: Interceptor[];
}

/** A gRPC-web transport to livescan that sends the API key. */
export function createLivescanTransport(options: LivescanTransportOptions): Transport {
  if (!options.apiKey) throw new TypeError("createLivescanTransport: apiKey is required");
  let baseUrl = options.baseUrl;
  if (!baseUrl) {
    if (typeof location === "undefined") {
      throw new TypeError("createLivescanTransport: baseUrl is required outside a browser");
    }
    baseUrl = location.origin;
  }
  return createGrpcWebTransport({
    baseUrl,
    interceptors: [apiKeyInterceptor(options.apiKey), ...(options.interceptors ?? [])],
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
}

/** A typed SessionService client over gRPC-web. */
export function createSessionClient(options: LivescanTransportOptions | Transport): SessionServiceClient {
  const transport = "apiKey" in options ? createLivescanTransport(options) : options;
  return createClient(SessionService, transport);
}

export interface WatchOptions {
  /** Start after this sequence number instead of with a snapshot. */
  afterSeq?: bigint;
  /** Stops the watch; the iterator then throws the signal's reason. */
  signal?: AbortSignal;
  /** Reconnects in a row without a message before giving up (default 5). */
  maxRetries?: number;
  /** First reconnect delay in ms, doubled per failed try up to 5 s (default 200). */
  retryDelayMs?: number;
  /** Called before each reconnect, with the `afterSeq` it resumes from. */
  onReconnect?: (info: { afterSeq: bigint | undefined; attempt: number; error: LivescanError }) => void;
}

/** Server answers that a reconnect cannot change. */
const FINAL_CODES = new Set<Code>([
  Code.InvalidArgument,
  Code.NotFound,
  Code.Unauthenticated,
  Code.PermissionDenied,
  Code.FailedPrecondition,
  Code.Unimplemented,
  Code.OutOfRange,
  Code.AlreadyExists,
]);

const TERMINAL = new Set<SessionStatus>([
  SessionStatus.COMPLETED,
  SessionStatus.PARTIAL,
  SessionStatus.FAILED,
  SessionStatus.CANCELLED,
]);

/**
 * Streams a session's WatchSession messages: a snapshot (unless `afterSeq` is
 * given), then every event, heartbeats included. When the connection drops it
 * reconnects with `afterSeq` = the last seq it yielded, so each event comes
 * exactly once and in order. Ends after `sessionFinished`, or after the
 * `narrative` it announces with `narrativeFollows` (or after a snapshot of a
 * session that already finished). Errors are LivescanErrors.
 */
export async function* watchSession(
  client: SessionServiceClient,
  sessionId: string,
  options: WatchOptions = {},
): AsyncGenerator<WatchSessionResponse, void, undefined> {
  const { signal } = options;
  const maxRetries = options.maxRetries ?? 5;
  const baseDelay = options.retryDelayMs ?? 200;
  let lastSeq = options.afterSeq;
  let failures = 0;
  // After a session_finished that announced a narrative: only that is left.
  let finished = false;

  for (;;) {
    let received = 0;
    try {
      const stream = client.watchSession(
        lastSeq === undefined ? { sessionId } : { sessionId, afterSeq: lastSeq },
        signal ? { signal } : {},
      );
      for await (const message of stream) {
        received++;
        failures = 0;
        const event = message.event;
        if (event.case !== "heartbeat") {
          // Events after a resume start past lastSeq; anything else was already yielded.
          if (lastSeq !== undefined && message.seq <= lastSeq) continue;
          lastSeq = message.seq;
        }
        yield message;
        if (event.case === "sessionFinished") {
          if (!event.value.narrativeFollows) return;
          finished = true;
        }
        if (event.case === "narrative") return;
        if (event.case === "snapshot" && TERMINAL.has(event.value.status)) return;
      }
      // A clean end with nothing in it, or after the end (the narrative
      // will not come): nothing comes after lastSeq.
      if (received === 0 || finished) return;
      // A clean end before session_finished: the connection was cut; resume.
      throw new ConnectError("stream ended before session_finished", Code.Unavailable);
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      const error = LivescanError.fromUnknown(err);
      if (error.grpcCode !== undefined && FINAL_CODES.has(error.grpcCode)) throw error;
      failures++;
      if (failures > maxRetries) throw error;
      options.onReconnect?.({ afterSeq: lastSeq, attempt: failures, error });
      const delay = error.retryAfterMs ?? Math.min(baseDelay * 2 ** (failures - 1), 5000);
      await sleep(delay, signal);
    }
  }
}

/** What `reports` takes: the options of `watchSession` except `afterSeq` (it needs the snapshot). */
export type ReportsOptions = Omit<WatchOptions, "afterSeq">;

const FINISHED_TOOL = new Set<ToolStatus>([ToolStatus.COMPLETED, ToolStatus.FAILED, ToolStatus.SKIPPED]);

function completedAtNanos(report: ToolReport): bigint {
  const t = report.completedAt;
  return t ? t.seconds * 1_000_000_000n + BigInt(t.nanos) : 0n;
}

/**
 * Yields every tool report of a session exactly once: first the reports that
 * had already finished (completed, failed or skipped) in the snapshot, in the
 * order they finished, then each `toolFinished` event as it arrives. Built on
 * `watchSession`, so it resumes after a dropped connection; it also remembers
 * the tools it has yielded and never yields one twice. Ends when the session
 * finishes (at once for a session that had already finished). Errors are
 * LivescanErrors, as for `watchSession`.
 */
export async function* reports(
  client: SessionServiceClient,
  sessionId: string,
  options: ReportsOptions = {},
): AsyncGenerator<ToolReport, void, undefined> {
  const { afterSeq: _ignored, ...watchOptions } = options as WatchOptions;
  const yielded = new Set<string>();
  for await (const message of watchSession(client, sessionId, watchOptions)) {
    const { event } = message;
    let batch: ToolReport[] = [];
    if (event.case === "snapshot") {
      batch = event.value.toolReports
        .filter((r) => FINISHED_TOOL.has(r.status))
        .sort((a, b) => {
          const d = completedAtNanos(a) - completedAtNanos(b);
          return d < 0n ? -1 : d > 0n ? 1 : 0;
        });
    } else if (event.case === "toolFinished") {
      batch = [event.value];
    }
    for (const report of batch) {
      if (yielded.has(report.toolName)) continue;
      yielded.add(report.toolName);
      yield report;
    }
  }
}

/** The REST spellings of the categories and their protobuf values. */
const CATEGORY_BY_NAME: Readonly<Record<CategoryName, Category>> = {
  security: Category.SECURITY,
  "code-quality": Category.CODE_QUALITY,
  accessibility: Category.ACCESSIBILITY,
  performance: Category.PERFORMANCE,
};

/** The category names the REST API takes, in the order of the protobuf enum. */
export const CATEGORY_NAMES: readonly CategoryName[] = Object.keys(CATEGORY_BY_NAME) as CategoryName[];

/**
 * The protobuf `Category` of a REST category name (`"code-quality"` ->
 * `Category.CODE_QUALITY`). A `Category` value passes through. Throws a
 * TypeError naming the value and the valid names for anything else (the
 * generated client would otherwise fail with `invalid int32: NaN`).
 */
export function categoryFromName(name: CategoryName | Category | string): Category {
  if (typeof name === "number") {
    if (name !== Category.UNSPECIFIED && Category[name] !== undefined) return name;
  } else if (Object.hasOwn(CATEGORY_BY_NAME, name)) {
    return CATEGORY_BY_NAME[name as CategoryName];
  }
  throw new TypeError(`unknown category ${JSON.stringify(name)}; valid: ${CATEGORY_NAMES.join(", ")}`);
}

/** A gRPC StartSession request whose `categories` may be REST names (`"code-quality"`) or `Category` values. */
export type GrpcStartSessionRequest = Omit<
  Exclude<MessageInitShape<typeof StartSessionRequestSchema>, StartSessionRequest>,
  "categories" | "$typeName"
> & {
  categories?: (CategoryName | Category)[];
};

/**
 * Calls `client.startSession` with the categories converted by
 * `categoryFromName`: `startSession(client, { target, categories: ["code-quality"] })`.
 * An unknown name rejects with that TypeError before anything is sent.
 */
export async function startSession(
  client: SessionServiceClient,
  request: GrpcStartSessionRequest,
  options?: CallOptions,
): Promise<StartSessionResponse> {
  const { categories, ...rest } = request;
  return client.startSession({ ...rest, categories: (categories ?? []).map((c) => categoryFromName(c)) }, options);
}
