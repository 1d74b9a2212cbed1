/**
 * gRPC-web access to SessionService (generated in ./gen) with Connect:
 * a transport that adds the API key, and `watchSession`, an async iterator
 * over WatchSession messages that resumes after a dropped connection with
 * `afterSeq` (no duplicates, no gaps) and ends after `session_finished`.
 * Works in browsers (same origin as the server) and in Node 20+ (fetch).
 */
import { Code, ConnectError, createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import { LivescanError } from "./errors.js";
import { sleep } from "./rest.js";
import {
  SessionService,
  SessionStatus,
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
 * exactly once and in order. Ends after `sessionFinished` (or after a snapshot
 * of a session that already finished). Errors are LivescanErrors.
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
        if (event.case === "sessionFinished") return;
        if (event.case === "snapshot" && TERMINAL.has(event.value.status)) return;
      }
      // A clean end with nothing in it: nothing comes after lastSeq.
      if (received === 0) return;
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
