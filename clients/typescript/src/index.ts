/**
 * @livescan/client: the TypeScript SDK of livescan.
 * - LivescanClient: the REST API, with `pollSession` (safe cursors, stops on every terminal status).
 * - watchSession / createSessionClient: gRPC-web streaming with resume (`afterSeq`).
 * - reports: every tool report of a session once (the snapshot's finished ones, then each toolFinished).
 * - startSession / categoryFromName: gRPC StartSession with the REST category names.
 * - LivescanError: one error type with HTTP `status`, `code`, `details`.
 * - The generated protobuf types and the SessionService descriptor (`./gen`).
 * The React hook lives in `@livescan/client/react`.
 */
export { LivescanError, type LivescanErrorCode, type LivescanErrorInit } from "./errors.js";
export {
  LivescanClient,
  finishedReports,
  type FetchLike,
  type IncrementalCursor,
  type LivescanClientOptions,
  type PollMode,
  type PollOptions,
  type PollResult,
  type PollUpdate,
  type RequestOptions,
} from "./rest.js";
export {
  CATEGORY_NAMES,
  apiKeyInterceptor,
  categoryFromName,
  createLivescanTransport,
  createSessionClient,
  reports,
  startSession,
  watchSession,
  type GrpcStartSessionRequest,
  type LivescanTransportOptions,
  type ReportsOptions,
  type SessionServiceClient,
  type WatchOptions,
} from "./grpc.js";
export * from "./types.js";
/** The generated protobuf messages, enums and service descriptor (livescan.v1). */
export * as pb from "./gen/livescan/v1/session_service_pb.js";
