/**
 * The REST interfaces of src/types.ts against the server's /openapi.json and
 * real answers. Each key list below is checked against its interface by the
 * type checker (a missing or extra key fails `npm run typecheck`), and against
 * the OpenAPI schema (properties and required) by the test.
 */
import { beforeAll, describe, expect, test } from "vitest";
import {
  LivescanClient,
  type Account,
  type Finding,
  type Intelligence,
  type LedgerEntry,
  type Progress,
  type Refund,
  type Session,
  type SessionIncrement,
  type SessionList,
  type SessionListItem,
  type SessionProgress,
  type StartSessionRequest,
  type StartSessionResponse,
  type Summary,
  type Tool,
  type ToolList,
  type ToolReport,
  type ToolResult,
} from "../src/index.js";
import { testEnv } from "./env.js";
import { plantedPartial } from "./helpers.js";

const env = testEnv();

type RequiredKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? never : K }[keyof T];
type OptionalKeys<T> = Exclude<keyof T, RequiredKeys<T>>;
interface Shape {
  required: string[];
  optional: string[];
}

/** Key lists that the type checker holds to be exactly T's required and optional keys. */
function keysOf<T>() {
  return <const R extends readonly RequiredKeys<T>[], const O extends readonly OptionalKeys<T>[]>(
    required: R & ([RequiredKeys<T>] extends [R[number]] ? unknown : { missingRequired: Exclude<RequiredKeys<T>, R[number]> }),
    optional: O & ([OptionalKeys<T>] extends [O[number]] ? unknown : { missingOptional: Exclude<OptionalKeys<T>, O[number]> }),
  ): Shape => ({ required: [...required] as string[], optional: [...optional] as string[] });
}

const SHAPES = {
  Session: keysOf<Session>()(
    ["sessionId", "scanId", "userId", "status", "target", "progress", "toolReports", "summary", "createdAt", "completedAt", "lastUpdated", "cursor"],
    ["creditsReserved", "refund", "error", "intelligence"],
  ),
  SessionProgress: keysOf<SessionProgress>()(["sessionId", "status", "progress", "lastUpdated", "cursor"], []),
  SessionIncrement: keysOf<SessionIncrement>()(
    ["sessionId", "status", "progress", "newReports", "lastUpdated", "cursor"],
    ["summary"],
  ),
  Progress: keysOf<Progress>()(["total", "completed", "failed", "skipped", "running", "pending", "percentage"], []),
  ToolReport: keysOf<ToolReport>()(
    ["toolName", "category", "status", "duration", "findingsCount", "result"],
    ["startedAt", "completedAt"],
  ),
  Finding: keysOf<Finding>()(
    ["ruleId", "severity", "message", "fingerprint"],
    ["originalLevel", "path", "line", "column", "url", "helpUri", "cwe", "baselineState", "suppression"],
  ),
  Summary: keysOf<Summary>()(
    ["totalFindings", "bySeverity", "byCategory", "toolsRun", "toolsSkipped", "toolsFailed"],
    ["suppressed", "newBySeverity"],
  ),
  Refund: keysOf<Refund>()([], ["refundedCredits", "toolsRefunded", "analysisRefunded", "newBalance"]),
  Started: keysOf<StartSessionResponse>()(["sessionId", "scanId", "status", "message", "pollUrls", "cursor", "lastUpdated"], []),
  StartRequest: keysOf<StartSessionRequest>()(
    ["target"],
    ["categories", "tools", "excludeTools", "enableIntelligence", "timeout", "maxConcurrent", "config", "baseline"],
  ),
  Account: keysOf<Account>()(["userId", "name", "balance", "createdAt", "ledger"], []),
  Intelligence: keysOf<Intelligence>()(
    ["riskScore", "grade", "summary", "findings", "issueCount", "corroborated", "issues", "priorities", "hotspots", "byOwasp"],
    ["narrative"],
  ),
  SessionList: keysOf<SessionList>()(["sessions", "total", "nextBefore"], []),
  ToolList: keysOf<ToolList>()(["tools", "total", "analysis"], []),
};

/** Schemas nested inside others in the OpenAPI document. */
const NESTED = {
  ToolResult: [
    ["ToolReport", "result"],
    keysOf<ToolResult>()(["findings", "partial"], ["outcome", "omitted", "leftOut", "error", "skipReason", "metrics", "suppressed", "rules", "scanner"]),
  ],
  LedgerEntry: [
    ["Account", "ledger", "items"],
    keysOf<LedgerEntry>()(["id", "at", "kind", "amount", "balanceAfter"], ["sessionId", "note"]),
  ],
  SessionListItem: [
    ["SessionList", "sessions", "items"],
    keysOf<SessionListItem>()(
      ["sessionId", "status", "progress", "createdAt", "completedAt"],
      ["scanId", "target", "summary", "lastUpdated", "cursor"],
    ),
  ],
  Tool: [
    ["ToolList", "tools", "items"],
    keysOf<Tool>()(
      ["id", "category", "ecosystem", "targets", "available", "cost", "summary"],
      ["unavailableReason", "installHint", "circuit", "averageDuration", "runs", "version"],
    ),
  ],
} satisfies Record<string, [string[], Shape]>;

interface JsonSchema {
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
}

let schemas: Record<string, JsonSchema>;

beforeAll(async () => {
  const response = await fetch(`${env.LIVESCAN_URL}/openapi.json`);
  expect(response.status).toBe(200);
  const doc = (await response.json()) as { components: { schemas: Record<string, JsonSchema> } };
  schemas = doc.components.schemas;
});

function expectShape(schema: JsonSchema | undefined, shape: Shape) {
  expect(schema?.properties, "schema has properties").toBeDefined();
  expect(Object.keys(schema!.properties!).sort()).toEqual([...shape.required, ...shape.optional].sort());
  expect([...(schema!.required ?? [])].sort()).toEqual([...shape.required].sort());
}

/** Keys of a real answer must be known to the interface, and the required ones present. */
function expectConforms(value: object, shape: Shape) {
  const keys = Object.keys(value);
  for (const key of keys) expect([...shape.required, ...shape.optional]).toContain(key);
  for (const key of shape.required) expect(keys).toContain(key);
}

describe("REST types match /openapi.json", () => {
  for (const [name, shape] of Object.entries(SHAPES)) {
    test(name, () => expectShape(schemas[name], shape));
  }
  for (const [name, [path, shape]] of Object.entries(NESTED)) {
    test(`${name} (${path.join(".")})`, () => {
      let schema: JsonSchema | undefined = schemas[path[0]!];
      for (const step of path.slice(1)) schema = step === "items" ? schema?.items : schema?.properties?.[step];
      expectShape(schema, shape);
    });
  }
});

test("real answers have the documented keys", async () => {
  const c = new LivescanClient({ baseUrl: env.LIVESCAN_URL, apiKey: env.LIVESCAN_API_KEY });
  const started = await c.startSession(plantedPartial(env));
  expectConforms(started, SHAPES.Started);
  const result = await c.pollSession(started.sessionId, { interval: 100 });
  const session = result.session!;
  expectConforms(session, SHAPES.Session);
  expectConforms(session.progress, SHAPES.Progress);
  expectConforms(session.summary, SHAPES.Summary);
  expectConforms(session.refund!, SHAPES.Refund);
  for (const report of Object.values(session.toolReports)) {
    expectConforms(report, SHAPES.ToolReport);
    expectConforms(report.result, NESTED.ToolResult[1]);
    for (const finding of report.result.findings) expectConforms(finding, SHAPES.Finding);
  }
  expectConforms(await c.getProgress(started.sessionId), SHAPES.SessionProgress);
  expectConforms(await c.getNewReports(started.sessionId, { after: 0 }), SHAPES.SessionIncrement);
  const list = await c.listSessions(3);
  expectConforms(list, SHAPES.SessionList);
  for (const item of list.sessions) expectConforms(item, NESTED.SessionListItem[1]);
  const account = await c.getAccount();
  expectConforms(account, SHAPES.Account);
  for (const entry of account.ledger) expectConforms(entry, NESTED.LedgerEntry[1]);
  const tools = await c.listTools();
  expectConforms(tools, SHAPES.ToolList);
  for (const tool of tools.tools) expectConforms(tool, NESTED.Tool[1]);
});
