/** The test contract's variables in the page (provided by vitest.config.ts); throws naming any missing one. */
import { inject } from "vitest";
import { testEnv, type TestEnv } from "../env.js";

export function browserTestEnv(): TestEnv {
  return testEnv(inject("livescanEnv"));
}
