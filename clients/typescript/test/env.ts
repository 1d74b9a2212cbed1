/** The test contract: the server and site under test come from these variables. */
export const REQUIRED_ENV = [
  "LIVESCAN_URL",
  "LIVESCAN_API_KEY",
  "LIVESCAN_POOR_API_KEY",
  "LIVESCAN_FIXTURES",
  "LIVESCAN_SITE",
] as const;

export type TestEnv = Record<(typeof REQUIRED_ENV)[number], string>;

declare module "vitest" {
  interface ProvidedContext {
    /** The variables, handed by vitest.config.ts to the browser tests (a page has no `process.env`). */
    livescanEnv: Partial<TestEnv>;
  }
}

/** Reads the variables; throws naming every missing one (the suite fails, it does not skip). */
export function testEnv(source: Partial<Record<string, string | undefined>> = process.env): TestEnv {
  const missing = REQUIRED_ENV.filter((name) => !source[name]);
  if (missing.length > 0) {
    throw new Error(
      `missing environment variable(s) ${missing.join(", ")}: the tests need a running livescan server ` +
        `(LIVESCAN_URL, LIVESCAN_API_KEY, LIVESCAN_POOR_API_KEY), its fixtures (LIVESCAN_FIXTURES) and a local site (LIVESCAN_SITE)`,
    );
  }
  const env = {} as TestEnv;
  for (const name of REQUIRED_ENV) env[name] = source[name]!.replace(/\/+$/, "");
  return env;
}
