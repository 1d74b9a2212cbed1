// Drives the live dashboard in headless Chromium (Debian's /usr/bin/chromium
// through playwright-core): a refused key, then the right one; a scan
// followed live over server-sent events and one over polling. For each it
// prints `ROWS_SEEN <transport> <rows>` once tool rows are on the page while
// the session still runs, and waits for the test to let the session finish.
// A third scan is cancelled from the page while it is held.
// Any page error, failed request or CSP violation fails the run.
//
// env: PLAYWRIGHT_CORE (its package dir), DASHBOARD_URL, API_KEY, TARGET_DIR,
//      SCREENSHOT_DIR; CHROMIUM (default /usr/bin/chromium)

const { chromium } = require(process.env.PLAYWRIGHT_CORE);

function need(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

/** Starts a scan from the form and waits for tool rows while the session still runs. */
async function startAndSeeRows(page, transport) {
  const url = `${need("DASHBOARD_URL")}/${transport === "poll" ? "?transport=poll" : ""}`;
  await page.goto(url);
  await page.locator("#scan-panel").waitFor({ state: "visible" });
  await page.fill("#target", need("TARGET_DIR"));
  await page.click("#start");
  await page.locator("#tools > li").first().waitFor({ timeout: 15000 });
  const transportText = await page.textContent("#transport");
  check(transportText.includes(transport === "poll" ? "polling" : "server-sent events"),
    `transport shown as "${transportText}" for ${transport}`);
  const status = await page.textContent("#status");
  const progress = await page.textContent("#progress-text");
  const rows = await page.locator("#tools > li").count();
  check(status === "running", `status while tools are still running: "${status}"`);
  check(await page.locator("#summary").isHidden(), "the summary showed before the scan finished");
  check(await page.locator("#cancel").isVisible(), "no cancel button on a running scan");
  const match = /^(\d+)\/(\d+) tools complete \((\d+)%\)$/.exec(progress);
  check(match, `progress text "${progress}"`);
  check(Number(match[1]) >= 1 && Number(match[1]) < Number(match[2]), `progress mid-scan: "${progress}"`);
  return { rows, progress };
}

/** What the page shows once the session has ended. */
async function finalState(page, transport) {
  await page.locator("#summary").waitFor({ state: "visible", timeout: 30000 });
  check(await page.locator("#cancel").isHidden(), "a cancel button on a finished scan");
  return {
    transport,
    status: await page.textContent("#status"),
    progress: await page.textContent("#progress-text"),
    title: await page.textContent("#summary-title"),
    refund: (await page.locator("#refund").isVisible()) ? await page.textContent("#refund") : null,
    rows: await page.locator("#tools > li").evaluateAll((items) =>
      items.map((li) => ({ tool: li.dataset.tool, severity: li.dataset.severity, classes: li.className,
        colour: getComputedStyle(li).borderLeftColor }))),
    critical: await page.textContent("#summary-table tbody tr:first-child td:last-child"),
  };
}

/** The analysis panel, and its issue filters tried one by one. */
async function analysisState(page) {
  await page.locator("#analysis").waitFor({ state: "visible", timeout: 30000 });
  const issueRows = () => page.locator("#issues tbody tr").evaluateAll((rows) =>
    rows.map((tr) => ({ severity: tr.dataset.severity, category: tr.dataset.category, text: tr.textContent })));
  const all = await issueRows();
  await page.selectOption("#issue-severity", "critical");
  const critical = await issueRows();
  await page.selectOption("#issue-severity", "");
  await page.selectOption("#issue-category", "code-quality");
  const codeQuality = await issueRows();
  await page.selectOption("#issue-category", "");
  await page.fill("#issue-search", "merge");
  const searched = await issueRows();
  const shownText = await page.textContent("#issues-shown");
  await page.fill("#issue-search", "");
  return {
    grade: await page.textContent("#analysis-grade"),
    summary: await page.textContent("#analysis-summary"),
    priorities: await page.locator("#analysis-priorities > li").allTextContents(),
    issues: all.length,
    critical,
    codeQuality,
    searched,
    shownText,
  };
}

/** A scan the test lets finish once the page has shown rows. */
async function scan(page, transport) {
  const { rows, progress } = await startAndSeeRows(page, transport);
  console.log(`ROWS_SEEN ${transport} ${rows} ${progress}`);
  const final = await finalState(page, transport);
  final.analysis = await analysisState(page);
  console.log(`FINAL ${JSON.stringify(final)}`);
  return final;
}

/** A scan cancelled from the page while the gate still holds it. */
async function cancelledScan(page) {
  await startAndSeeRows(page, "sse");
  await page.click("#cancel");
  const final = await finalState(page, "sse");
  console.log(`CANCELLED ${JSON.stringify(final)}`);
}

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const problems = [];
  const page = await browser.newPage({ viewport: { width: 1100, height: 1400 } });
  try {
    page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
    page.on("console", (msg) => {
      if (msg.type() === "error") problems.push(`console error: ${msg.text()}`);
    });
    page.on("requestfailed", (req) => {
      // Leaving a page aborts what it still has in flight (its event stream,
      // a list refresh): ERR_ABORTED is the navigation, not a failure.
      const reason = req.failure()?.errorText;
      if (reason !== "net::ERR_ABORTED") problems.push(`request failed: ${req.url()} ${reason}`);
    });

    await page.goto(`${need("DASHBOARD_URL")}/`);
    await page.locator("#key-panel").waitFor({ state: "visible" });
    await page.fill("#api-key", "lsk_000000000000_0000000000000000000000000000000000000000");
    await page.click("#key-form button[type=submit]");
    await page.locator("#error").waitFor({ state: "visible" });
    const refused = await page.textContent("#error");
    check(refused.includes("refused"), `a wrong key shows "${refused}"`);
    // The 401 itself is expected; only problems after this point count.
    problems.length = 0;

    await page.fill("#api-key", need("API_KEY"));
    await page.click("#key-form button[type=submit]");
    await page.locator("#scan-panel").waitFor({ state: "visible" });
    const account = await page.textContent("#account");
    check(/credits$/.test(account), `account line "${account}"`);

    const live = await scan(page, "sse");
    await page.screenshot({ path: `${need("SCREENSHOT_DIR")}/dashboard.png`, fullPage: true, animations: "disabled" });
    const polled = await scan(page, "poll");
    await page.screenshot({ path: `${need("SCREENSHOT_DIR")}/dashboard-polling.png`, fullPage: true, animations: "disabled" });
    await cancelledScan(page);
    check(JSON.stringify(live.rows.map((r) => r.tool).sort()) === JSON.stringify(polled.rows.map((r) => r.tool).sort()),
      "both transports show the same tools");
    check(problems.length === 0, `problems on the page:\n${problems.join("\n")}`);
    console.log("DONE");
  } catch (err) {
    await page.screenshot({ path: `${need("SCREENSHOT_DIR")}/dashboard-failure.png`, fullPage: true });
    err.message += `\npage problems: ${problems.join("; ") || "none"}`;
    throw err;
  } finally {
    await browser.close();
  }
})().catch((err) => {
  console.error(err.stack || String(err));
  process.exit(1);
});
