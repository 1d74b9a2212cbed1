/** Shared test helpers: sessions to drive, and a fetch wrapper that records requests. */
import type { SessionServiceClient, StartSessionRequest } from "../src/index.js";
import type { TestEnv } from "./env.js";

/** The four URL tools used for a slow session. */
export const SLOW_TOOLS = ["http-headers", "html-a11y", "cookies", "page-weight"];

/**
 * A slow session that ends `partial`: one page hangs, so each URL tool runs
 * into its 400 ms timeout, one after the other (maxConcurrent 1). The reports
 * arrive about 400 ms apart, over about 1.6 s.
 */
export function slowPartial(env: TestEnv): StartSessionRequest {
  return {
    target: { urls: [`${env.LIVESCAN_SITE}/slow.html`, `${env.LIVESCAN_SITE}/hang`] },
    tools: SLOW_TOOLS,
    maxConcurrent: 1,
    timeout: 400,
  };
}

/** Starts `slowPartial` over gRPC-web; returns its session id. */
export async function startSlowOverGrpc(client: SessionServiceClient, env: TestEnv): Promise<string> {
  const request = slowPartial(env);
  const started = await client.startSession({
    target: request.target,
    tools: request.tools!,
    maxConcurrent: request.maxConcurrent!,
    timeoutMs: request.timeout!,
  });
  return started.sessionId;
}

/** dir-planted with a tool that cannot run here (no advisory DB): ends `partial`, with a refund. */
export function plantedPartial(env: TestEnv): StartSessionRequest {
  return {
    target: { directory: `${env.LIVESCAN_FIXTURES}/dir-planted` },
    tools: ["secrets", "vulnerable-dependencies"],
  };
}

/** dir-planted with two native tools: ends `completed` with critical and high findings. */
export function plantedCompleted(env: TestEnv): StartSessionRequest {
  return {
    target: { directory: `${env.LIVESCAN_FIXTURES}/dir-planted` },
    tools: ["secrets", "merge-conflicts"],
  };
}

export interface RecordedCall {
  url: string;
  method: string;
  at: number;
  status?: number;
  /** The parsed JSON body of the answer, when it was JSON. */
  body?: unknown;
}

/** Wraps the real fetch (no mocking): counts and records every request and its JSON answer. */
export function recordingFetch(base: typeof fetch = globalThis.fetch.bind(globalThis)) {
  const calls: RecordedCall[] = [];
  const wrapped = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const call: RecordedCall = { url, method: init?.method ?? "GET", at: Date.now() };
    calls.push(call);
    const response = await base(input, init);
    call.status = response.status;
    if (!response.headers.get("content-type")?.includes("application/json")) return response;
    // Read the body and hand on a copy (Response.clone() of some fetch implementations loses the body).
    const text = await response.text();
    call.body = JSON.parse(text);
    return new Response(text, { status: response.status, statusText: response.statusText, headers: response.headers });
  };
  return { fetch: wrapped, calls };
}

export const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
