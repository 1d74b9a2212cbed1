import { testEnv } from "./env.js";

/** Fails the whole run at once, with the names of the missing variables, and checks the server answers. */
export default async function setup(): Promise<void> {
  const env = testEnv();
  const health = await fetch(`${env.LIVESCAN_URL}/healthz`).catch((err: unknown) => {
    throw new Error(`LIVESCAN_URL=${env.LIVESCAN_URL} does not answer: ${String(err)}`);
  });
  if (!health.ok) throw new Error(`${env.LIVESCAN_URL}/healthz answered ${health.status}`);
}
