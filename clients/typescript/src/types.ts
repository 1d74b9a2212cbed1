/**
 * The REST API's JSON shapes, as served by livescan (see `GET /openapi.json`).
 * Times are ISO 8601 strings with whole milliseconds; counts are numbers.
 */

/** A session's lifecycle. */
export type SessionStatus = "initializing" | "running" | "completed" | "partial" | "failed" | "cancelled";

/** The statuses after which a session never changes again. Stop polling on any of them. */
export type TerminalStatus = "completed" | "partial" | "failed" | "cancelled";

export const TERMINAL_STATUSES: readonly TerminalStatus[] = ["completed", "partial", "failed", "cancelled"];

/** True for `completed`, `partial`, `failed` and `cancelled`. */
export function isTerminalStatus(status: string): status is TerminalStatus {
  return (TERMINAL_STATUSES as readonly string[]).includes(status);
}

export type Category = "security" | "code-quality" | "accessibility" | "performance";
/** What a tool looks at (`GET /api/tools`). */
export type Ecosystem =
  | "any"
  | "dependencies"
  | "python"
  | "javascript"
  | "web"
  | "shell"
  | "c-cpp"
  | "java"
  | "go"
  | "ruby"
  | "php"
  | "perl"
  | "lua"
  | "solidity"
  | "sql"
  | "containers"
  | "infrastructure"
  | "ci"
  | "config"
  | "docs"
  | "website";
export type ToolStatus = "pending" | "running" | "completed" | "failed" | "skipped";
export type Outcome = "clean" | "findings" | "tool_error" | "timed_out" | "skipped";
export type Severity = "critical" | "high" | "medium" | "low" | "info";

/** What to scan: exactly one of `url`, `urls` or `directory` (an absolute path inside the server's scan roots). */
export type Target = { url: string } | { urls: string[] } | { directory: string };

/** Body of `POST /api/sessions`. */
export interface StartSessionRequest {
  target: Target;
  categories?: Category[];
  /** Specific tool ids; overrides `categories`. */
  tools?: string[];
  excludeTools?: string[];
  /** Default true: the session gets `intelligence`, its findings merged, ranked and graded. */
  enableIntelligence?: boolean;
  /** Max milliseconds per tool (100 to 3600000; default 300000). */
  timeout?: number;
  /** Tools of this session running at once (1 to 32; default 5). */
  maxConcurrent?: number;
  /** The text of a `livescan.toml`, used instead of the one at the target's root. */
  config?: string;
  /** One of your ended sessions: findings are marked new or unchanged against it. */
  baseline?: string;
}

/** Answer (202) of `POST /api/sessions`. */
export interface StartSessionResponse {
  sessionId: string;
  scanId: string;
  status: "started";
  message: string;
  pollUrls: { full: string; progress: string; newReports: string; events?: string };
  /** Pass as the first `after`. */
  cursor: number;
  /** Pass as the first `since`. */
  lastUpdated: string;
}

/** Counts by tool status: `pending + running + completed + failed + skipped = total`. */
export interface Progress {
  total: number;
  completed: number;
  failed: number;
  skipped: number;
  running: number;
  pending: number;
  /** `floor(100 * (completed + failed + skipped) / total)`. */
  percentage: number;
}

export interface Finding {
  ruleId: string;
  severity: Severity;
  message: string;
  fingerprint: string;
  originalLevel?: string;
  /** File path relative to the scanned directory. */
  path?: string;
  line?: number;
  column?: number;
  /** The page, for URL targets. */
  url?: string;
  helpUri?: string;
  /** The weakness, as a CWE number (89: SQL injection), where one applies. */
  cwe?: number;
  /** With a baseline: whether it had this finding. */
  baselineState?: "new" | "unchanged";
  /** Why the finding is accepted: listed, not counted, unless `expired`. */
  suppression?: Suppression;
}

/** A `livescan:ignore` comment (`inline`) or a `livescan.toml` `[[ignore]]` (`config`). */
export interface Suppression {
  kind: "inline" | "config";
  reason?: string;
  /** The first day it no longer holds (`YYYY-MM-DD`). */
  expires?: string;
  /** True once it ran out: the finding counts again. */
  expired?: boolean;
}

export interface Metric {
  name: string;
  value: string;
  url?: string;
}

export interface ToolResult {
  /** Worst first; at most the server's cap per report. */
  findings: Finding[];
  /** True when the findings are incomplete (the tool stopped early). */
  partial: boolean;
  outcome?: Outcome;
  /** Findings past the cap: counted in `findingsCount`, not listed. */
  omitted?: Omitted;
  /** Files of the tree the tool did not look at, by why (directory targets). */
  leftOut?: Partial<Record<"vendored" | "generated" | "minified" | "binary", number>>;
  error?: string;
  skipReason?: string;
  metrics?: Metric[];
  /** Listed findings that are suppressed: not in `findingsCount`. */
  suppressed?: number;
  /** What the tool said about the rules of the listed findings. */
  rules?: RuleInfo[];
  /** The external program that ran, for tools that run one. */
  scanner?: { name: string; version?: string };
}

/** What a tool says about one of its rules (a scanner's SARIF descriptions). */
export interface RuleInfo {
  id: string;
  name?: string;
  description?: string;
  /** What to do about it. */
  help?: string;
}

/** Findings a report counts but does not list. */
export interface Omitted {
  count: number;
  bySeverity: Partial<Record<Severity, number>>;
}

/** One tool's report. `completedAt` strictly increases within a session. */
export interface ToolReport {
  toolName: string;
  category: Category;
  status: ToolStatus;
  /** Milliseconds. */
  duration: number;
  findingsCount: number;
  result: ToolResult;
  startedAt?: string;
  completedAt?: string;
}

export interface Summary {
  totalFindings: number;
  bySeverity: Partial<Record<Severity, number>>;
  /** Keyed by category (`code-quality`). */
  byCategory: Partial<Record<Category, number>>;
  toolsRun: number;
  toolsSkipped: number;
  toolsFailed: number;
  /** Listed findings that are suppressed (not counted above). */
  suppressed?: number;
  /** With a baseline: the findings, not suppressed, it did not have. */
  newBySeverity?: Partial<Record<Severity, number>>;
}

/** Credits returned when a session ended, for tools that failed, timed out, were skipped or never ran. */
export interface Refund {
  refundedCredits?: number;
  toolsRefunded?: string[];
  /** The analysis was paid for and not made; its credits are in `refundedCredits`. */
  analysisRefunded?: boolean;
  newBalance?: number;
}

/** `GET /api/sessions/{id}`: the full report. */
export interface Session {
  sessionId: string;
  scanId: string;
  userId: string;
  status: SessionStatus;
  target: Target;
  progress: Progress;
  /** One report per selected tool, keyed by tool id (pending ones included). */
  toolReports: Record<string, ToolReport>;
  summary: Summary;
  createdAt: string;
  completedAt: string | null;
  /** Time of the newest change reflected here: feed back as `since`. */
  lastUpdated: string;
  /** Sequence number of the newest event reflected here: feed back as `after`. */
  cursor: number;
  /** Credits taken when the session started. */
  creditsReserved?: number;
  refund?: Refund;
  /** Why the session failed, when it did. */
  error?: string;
  /** The analysis of the findings, once the last tool has finished (`enableIntelligence`). */
  intelligence?: Intelligence;
}

/** `GET /api/sessions/{id}?progress=true`. */
export interface SessionProgress {
  sessionId: string;
  status: SessionStatus;
  progress: Progress;
  lastUpdated: string;
  cursor: number;
}

/** `GET /api/sessions/{id}?after=N` or `?since=T`: the reports finished after the cursor. */
export interface SessionIncrement {
  sessionId: string;
  status: SessionStatus;
  progress: Progress;
  newReports: ToolReport[];
  lastUpdated: string;
  cursor: number;
  summary?: Summary;
}

/** One entry of `GET /api/sessions` (no tool reports). */
export interface SessionListItem {
  sessionId: string;
  status: SessionStatus;
  progress: Progress;
  createdAt: string;
  completedAt: string | null;
  scanId?: string;
  target?: Target;
  summary?: Summary;
  lastUpdated?: string;
  cursor?: number;
}

export interface SessionList {
  sessions: SessionListItem[];
  total: number;
  /** Pass as `before` for the next page; `null` on the last page. */
  nextBefore: string | null;
}

/** One entry of `GET /api/tools`. */
export interface Tool {
  id: string;
  category: Category;
  /** What it looks at: a language (`python`, `c-cpp`, …), a kind of file, `any` file, or `website`. */
  ecosystem: Ecosystem;
  targets: ("directory" | "url" | "urls")[];
  available: boolean;
  /** Credits one run costs. */
  cost: number;
  summary: string;
  unavailableReason?: string;
  installHint?: string;
  /** Milliseconds its past runs on this server took on average; absent before its first run. */
  averageDuration?: number;
  /** How many times it ran (completed or failed) on this server. */
  runs?: number;
  /** The version a run uses; for an external scanner, absent until it has run once. */
  version?: string;
  circuit?: { state: "closed" | "open" | "half-open"; failures: number; retryAt?: string };
}

export interface ToolList {
  tools: Tool[];
  total: number;
  /** The analysis of a session's findings (`enableIntelligence`): its price, refunded when it is not made. */
  analysis: { cost: number; summary: string };
}

export interface LedgerEntry {
  id: number;
  at: string;
  kind: "grant" | "reserve" | "refund";
  /** Negative for reservations. */
  amount: number;
  balanceAfter: number;
  sessionId?: string;
  note?: string;
}

/** `GET /api/account`. */
export interface Account {
  userId: string;
  name: string;
  balance: number;
  createdAt: string;
  /** Newest first; at most 50 entries. */
  ledger: LedgerEntry[];
}

/** The analysis of a session's findings: merged across tools, ranked, graded. */
export interface Intelligence {
  /** 0 (nothing found) to 100. */
  riskScore: number;
  /** The HTTP Observatory's scale, A+ to F, of `100 - riskScore`. */
  grade: string;
  summary: string;
  findings: number;
  issueCount: number;
  /** Issues reported by more than one tool. */
  corroborated: number;
  /** The worst first; at most 500. */
  issues: Issue[];
  /** What to fix first; at most 10. */
  priorities: Priority[];
  hotspots: { location: string; issues: number; worst: Severity; score: number }[];
  /** Issues per OWASP Top 10 (2021) category. */
  byOwasp: Record<string, number>;
  /**
   * A language model's reading of the issues (`serve --llm-url`); it may come after the session's end:
   * its `text`, or the `error` that left it without one.
   */
  narrative?: { text?: string; model: string; error?: string };
}

/** One problem, however many tools reported it. */
export interface Issue {
  /** Stable while the problem stays, also when lines move. */
  id: string;
  title: string;
  severity: Severity;
  /** The category of the tool that rated it worst. */
  category: Category;
  /** 0–100: grows with each tool that agrees. */
  confidence: number;
  cwe?: number;
  owasp?: string;
  /** `path:line`, `path`, or the page's URL. */
  location: string;
  exposure: "secrets-file" | "deployment" | "source" | "test" | "docs" | "page";
  seenBy: { tool: string; ruleId: string; severity: Severity }[];
  fingerprints: string[];
  score: number;
}

/** One issue to fix first. */
export interface Priority {
  rank: number;
  /** The issue's id. */
  issue: string;
  title: string;
  severity: Severity;
  whatToDo: string;
  why: string;
  location: string;
}
