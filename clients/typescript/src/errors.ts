/**
 * LivescanError: one error type for REST and gRPC(-web) failures, carrying the
 * HTTP status, the server's error code and details (the REST body
 * `{"error": {"code", "message", "details"}}`, or the `livescan-error-bin`
 * metadata of a gRPC error).
 */
import { Code, ConnectError, decodeBinaryHeader } from "@connectrpc/connect";

/** The server's error codes, plus two the client adds for failures with no server answer. */
export type LivescanErrorCode =
  | "invalid_argument"
  | "not_found"
  | "unauthenticated"
  | "insufficient_credits"
  | "rate_limited"
  | "unavailable"
  | "internal"
  /** Past a server limit (uploads); `details.limit` names it. */
  | "too_large"
  /** A body sent without `Content-Type: application/json`. */
  | "unsupported_media_type"
  /** No HTTP answer at all (connection refused, reset, DNS). `status` is 0. */
  | "network_error"
  /** An answer that is not the server's error shape (a proxy's page, say). */
  | "http_error";

export interface LivescanErrorInit {
  status: number;
  code: LivescanErrorCode;
  message: string;
  details?: Record<string, unknown>;
  retryAfterMs?: number;
  grpcCode?: Code;
  cause?: unknown;
}

export class LivescanError extends Error {
  override readonly name = "LivescanError";
  /** HTTP status (401, 402, 404, 429, ...); for gRPC errors the REST equivalent; 0 when no answer came. */
  readonly status: number;
  /** The server's error code, e.g. `insufficient_credits`. */
  readonly code: LivescanErrorCode;
  /** The server's details: `field`, `valid`, `required` and `balance`, `retryAfterMs`. */
  readonly details: Record<string, unknown>;
  /** For 429: how long to wait before trying again, from `details.retryAfterMs` or `Retry-After`. */
  readonly retryAfterMs: number | undefined;
  /** For errors of gRPC(-web) calls: the gRPC status code. */
  readonly grpcCode: Code | undefined;

  constructor(init: LivescanErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.status = init.status;
    this.code = init.code;
    this.details = init.details ?? {};
    this.retryAfterMs = init.retryAfterMs;
    this.grpcCode = init.grpcCode;
  }

  /** Builds the error for a non-2xx REST response; reads its body. */
  static async fromResponse(response: Response): Promise<LivescanError> {
    const text = await response.text().catch(() => "");
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    const retryAfterHeader = parseRetryAfter(response.headers.get("retry-after"));
    const error = isRecord(body) && isRecord(body["error"]) ? body["error"] : undefined;
    if (error && typeof error["code"] === "string" && typeof error["message"] === "string") {
      const details = isRecord(error["details"]) ? error["details"] : {};
      const fromDetails = details["retryAfterMs"];
      return new LivescanError({
        status: response.status,
        code: error["code"] as LivescanErrorCode,
        message: error["message"],
        details,
        retryAfterMs: typeof fromDetails === "number" ? fromDetails : retryAfterHeader,
      });
    }
    return new LivescanError({
      status: response.status,
      code: "http_error",
      message: `HTTP ${response.status} ${response.statusText}: ${text.slice(0, 200)}`.trim(),
      retryAfterMs: retryAfterHeader,
    });
  }

  /**
   * Converts an error of a Connect (gRPC-web) call. Reads the REST code and
   * details from the `livescan-error-bin` metadata when the server sent them.
   */
  static fromConnectError(err: ConnectError): LivescanError {
    let code: LivescanErrorCode | undefined;
    let details: Record<string, unknown> = {};
    const bin = err.metadata.get("livescan-error-bin");
    if (bin) {
      try {
        const parsed: unknown = JSON.parse(new TextDecoder().decode(decodeBinaryHeader(bin)));
        if (isRecord(parsed)) {
          if (typeof parsed["code"] === "string") code = parsed["code"] as LivescanErrorCode;
          if (isRecord(parsed["details"])) details = parsed["details"];
        }
      } catch {
        // Not the server's format: fall back to the gRPC code below.
      }
    }
    const retrySeconds = parseRetryAfter(err.metadata.get("retry-after"));
    const fromDetails = details["retryAfterMs"];
    if (code === undefined && !err.isWireError && TRANSPORT_CODES.has(err.code)) {
      // Raised on this side (connection refused or reset, a cut stream): no server answer.
      return new LivescanError({ status: 0, code: "network_error", message: err.rawMessage, grpcCode: err.code, cause: err });
    }
    return new LivescanError({
      status: httpStatusOf(err.code, code),
      code: code ?? codeOf(err.code),
      message: err.rawMessage,
      details,
      retryAfterMs: typeof fromDetails === "number" ? fromDetails : retrySeconds,
      grpcCode: err.code,
      cause: err,
    });
  }

  /** Converts anything thrown by a Connect call (ConnectError or not) into a LivescanError. */
  static fromUnknown(err: unknown): LivescanError {
    if (err instanceof LivescanError) return err;
    return LivescanError.fromConnectError(ConnectError.from(err));
  }
}

/** Codes that Connect raises on this side when the connection fails or is cut. */
const TRANSPORT_CODES = new Set<Code>([Code.Unknown, Code.Canceled, Code.DeadlineExceeded, Code.Internal, Code.Unavailable, Code.Aborted]);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `Retry-After` in seconds (the server sends whole seconds) to milliseconds. */
function parseRetryAfter(value: string | null): number | undefined {
  if (value === null) return undefined;
  const seconds = Number(value);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}

function codeOf(code: Code): LivescanErrorCode {
  switch (code) {
    case Code.InvalidArgument:
      return "invalid_argument";
    case Code.NotFound:
      return "not_found";
    case Code.Unauthenticated:
      return "unauthenticated";
    case Code.FailedPrecondition:
      return "insufficient_credits";
    case Code.ResourceExhausted:
      return "rate_limited";
    case Code.Unavailable:
      return "unavailable";
    default:
      return "internal";
  }
}

function httpStatusOf(code: Code, restCode: LivescanErrorCode | undefined): number {
  switch (restCode ?? codeOf(code)) {
    case "invalid_argument":
      return 400;
    case "unauthenticated":
      return 401;
    case "insufficient_credits":
      return 402;
    case "not_found":
      return 404;
    case "rate_limited":
      return 429;
    case "unavailable":
      return 503;
    default:
      return 500;
  }
}
