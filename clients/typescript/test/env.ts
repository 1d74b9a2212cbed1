/** The test contract: the server and site under test come from these variables. */
export const REQUIRED_ENV = [
  "LIVESCAN_URL",
  "LIVESCAN_API_KEY",
  "LIVESCAN_POOR_API_KEY",
  "LIVESCAN_FIXTURES",
  "LIVESCAN_SITE",
] as const;

export type TestEnv = Record<(typeof REQUIRED_ENV)[number], string>;

/** Reads the variables; throws naming every missing one (the suite fails, it does not skip). */
export function testEnv(): TestEnv {
  const missing = REQUIRED_ENV.filter((name) => !process.env[name]);
  if (missing.length > 0) {
    throw new Error(
      `missing environment variable(s) ${missing.join(", ")}: the tests need a running livescan server ` +
        `(LIVESCAN_URL, LIVESCAN_API_KEY, LIVESCAN_POOR_API_KEY), its fixtures (LIVESCAN_FIXTURES) and a local site (LIVESCAN_SITE)`,
    );
  }
  const env = {} as TestEnv;
  for (const name of REQUIRED_ENV) env[name] = process.env[name]!.replace(/\/+$/, "");
  return env;
}
