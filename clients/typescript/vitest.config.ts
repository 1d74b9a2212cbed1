/**
 * Two projects against the same real server (the test contract's LIVESCAN_* variables):
 * - `node`: the SDK in Node, and the React hook in happy-dom (test/*.test.ts);
 * - `browser`: the hook and gRPC-web in headless Chromium (test/browser/*.test.ts). The page
 *   comes from vite's dev server, which proxies the server's routes, so the page reaches the
 *   server same-origin, as a dashboard served by livescan does (the server sends no CORS headers).
 * The projects run one after the other (sequence.groupOrder), the browser first: they share the
 * server and the keys' rate limits (test/rest.test.ts drains the poor key's on purpose).
 */
import { playwright } from "@vitest/browser-playwright";
import { defineConfig } from "vitest/config";
import { REQUIRED_ENV } from "./test/env.js";

/** Debian's Chromium; override with LIVESCAN_CHROMIUM. */
const chromium = process.env["LIVESCAN_CHROMIUM"] ?? "/usr/bin/chromium";

// The variables as the browser tests see them (missing ones stay missing: the tests name them).
const livescanEnv: Partial<Record<(typeof REQUIRED_ENV)[number], string>> = {};
for (const name of REQUIRED_ENV) {
  const value = process.env[name];
  if (value) livescanEnv[name] = value.replace(/\/+$/, "");
}

// The server's routes, forwarded by the page's dev server. The default http-proxy settings pipe
// the answer through as it arrives (gRPC-web streams are not buffered) and keep every request
// header (`authorization` included). Without LIVESCAN_URL the global setup fails the run first.
const target = livescanEnv.LIVESCAN_URL;
const proxy = target
  ? Object.fromEntries(
      ["/api/", "/healthz", "/openapi.json", "/livescan.v1.SessionService/"].map((path) => [
        path,
        { target, changeOrigin: true },
      ]),
    )
  : {};

export default defineConfig({
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: "node",
          include: ["test/*.test.ts"],
          sequence: { groupOrder: 2 },
        },
      },
      {
        extends: true,
        server: { proxy },
        // Bundled up front, so no dependency is discovered mid-run (which reloads the page).
        optimizeDeps: {
          include: [
            "react",
            "react-dom",
            "react-dom/client",
            "react/jsx-dev-runtime",
            "@testing-library/react",
            "@bufbuild/protobuf",
            "@bufbuild/protobuf/codegenv2",
            "@bufbuild/protobuf/wkt",
            "@connectrpc/connect",
            "@connectrpc/connect-web",
          ],
        },
        test: {
          name: "browser",
          include: ["test/browser/*.test.ts"],
          sequence: { groupOrder: 1 },
          provide: { livescanEnv },
          browser: {
            enabled: true,
            headless: true,
            ui: false,
            screenshotFailures: false,
            api: { host: "127.0.0.1" },
            provider: playwright({
              launchOptions: {
                executablePath: chromium,
                args: [
                  "--no-sandbox",
                  "--disable-gpu",
                  "--disable-quic",
                  "--no-first-run",
                  "--disable-background-networking",
                  "--disable-component-update",
                  "--disable-sync",
                ],
              },
            }),
            instances: [{ browser: "chromium" }],
          },
        },
      },
    ],
    globalSetup: ["test/global-setup.ts"],
    // One file at a time: the files share the server and the keys' rate limits.
    fileParallelism: false,
    testTimeout: 20_000,
    hookTimeout: 20_000,
  },
});
