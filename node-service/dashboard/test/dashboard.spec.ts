// The dashboard in a real headless Chromium, against the real server binary
// and the real Kafka on 127.0.0.1 (topics and group unique to this run).
import path from "node:path";
import { expect, type Page, test } from "@playwright/test";
import {
  buildBinaries, deletePassedTopics, freePort, kafkaSkipReason, killAll, newTopics, type Outcome, produce, removeBinaries, type Sent, type Server,
  startServer,
} from "../../test/harness";

// The README's screenshot is rewritten only on request (UPDATE_SCREENSHOT=1
// make test-browser): its pixels differ on every run, and a test run should
// leave the working tree as it found it.
const SCREENSHOT = path.resolve(__dirname, "../screenshot.png");

// The ids in the table, in order, one per row.
function rowIds(page: Page): Promise<string[]> {
  return page.locator("#payments tbody tr").evaluateAll((rows) => rows.map((r) => (r as HTMLElement).dataset.id ?? ""));
}

function figure(page: Page, table: string, key: string) {
  return page.locator(`#${table} tbody tr[data-key="${key}"] td`).nth(1);
}

// The running test's outcome, for newTopics: the topics of a test that
// passed are deleted after all.
function thisTest(): Outcome {
  const info = test.info();
  return {
    get passed() {
      return info.status === info.expectedStatus;
    },
  };
}

test.afterAll(async () => {
  killAll();
  await deletePassedTopics();
  await removeBinaries();
});

test("live table, figures, filter, detail and a server restart", async ({ page }) => {
  const skip = await kafkaSkipReason();
  test.skip(skip !== undefined, skip);

  // Console errors fail the test, except the browser's own report of a
  // refused or cut connection while the server is down on purpose.
  const consoleErrors: string[] = [];
  let serverDown = false;
  page.on("pageerror", (e) => consoleErrors.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() !== "error") return;
    if (serverDown && /net::ERR_(CONNECTION_REFUSED|EMPTY_RESPONSE|CONNECTION_RESET|INCOMPLETE_CHUNKED_ENCODING)/.test(m.text())) return;
    consoleErrors.push(m.text());
  });

  const bin = await buildBinaries();
  const topics = newTopics("dashboard", thisTest());
  const dashAddr = `127.0.0.1:${await freePort()}`;
  const env = { DASHBOARD_ADDR: dashAddr };
  let server: Server = await startServer(bin, topics, { env });
  try {
    expect(server.log()).toContain(`Dashboard on http://${dashAddr}/`);
    await page.goto(`http://${dashAddr}/`);
    // The page's own stream is subscribed once the server counts it.
    await expect(page.locator("#clients")).toHaveText("1");
    await expect(page.locator("#connection")).toHaveAttribute("data-state", "live");

    // Payments of three gateways and one malformed record.
    const first = await produce(bin, topics.raw, { count: 12, seed: 1501, gateways: "stripe,razorpay,paypal" });
    const bad = await produce(bin, topics.raw, { count: 1, seed: 1502, invalidRate: 1, gateways: "stripe" });
    expect(bad[0]?.malformed).toBe(true);
    const ids = (sent: Sent[]) => sent.map((s) => s.id);
    await expect.poll(async () => (await rowIds(page)).sort()).toEqual(ids(first).sort());

    const perGateway = (g: string) => first.filter((s) => s.gateway === g).length;
    for (const g of ["stripe", "razorpay", "paypal"]) {
      await expect(figure(page, "gateways", g.toUpperCase())).toHaveText(String(perGateway(g)));
    }
    await expect(page.locator("#dlq-total")).toHaveText("1");
    await expect(page.locator("#dlq-codes tbody tr")).toHaveCount(1);

    // A filter narrows the table to one gateway; "all" brings every row back.
    await page.selectOption("#filter-gateway", "STRIPE");
    await expect(page.locator("#payments tbody tr")).toHaveCount(perGateway("stripe"));
    expect(new Set(await page.locator("#payments tbody tr").evaluateAll((rs) => rs.map((r) => (r as HTMLElement).dataset.gateway)))).toEqual(new Set(["STRIPE"]));
    await page.selectOption("#filter-gateway", "");
    await expect(page.locator("#payments tbody tr")).toHaveCount(first.length);

    // A click shows the payment's state from GetPayment.
    const one = first[0]!;
    await page.locator(`#payments tbody tr[data-id="${one.id}"]`).click();
    await expect(page.locator("#detail-id")).toHaveText(one.id);
    await expect(page.locator("#detail-fields")).toHaveAttribute("data-status", "COMPLETED");
    await expect(page.locator("#detail-fields")).toContainText(one.money);

    // Restart: payments sent while the server is down arrive after it is
    // back, each once, and the page says it reconnected.
    serverDown = true;
    expect(await server.stop()).toBe(0);
    await expect(page.locator("#connection")).toHaveAttribute("data-state", "down");
    const during = await produce(bin, topics.raw, { count: 6, seed: 1503, gateways: "adyen,square" });
    server = await startServer(bin, topics, { env });
    await expect(page.locator("#connection")).toHaveAttribute("data-state", "reconnected");
    serverDown = false;
    const after = await produce(bin, topics.raw, { count: 4, seed: 1504, gateways: "stripe,square" });
    // The dead-letter figures count since the server started: one more shows they are live again.
    expect((await produce(bin, topics.raw, { count: 1, seed: 1505, invalidRate: 1, gateways: "paypal" }))[0]?.malformed).toBe(true);
    await expect(page.locator("#dlq-total")).toHaveText("1");
    const all = [...first, ...during, ...after];
    await expect.poll(async () => (await rowIds(page)).length).toBe(all.length);
    const shown = await rowIds(page);
    expect(shown.slice().sort()).toEqual(ids(all).sort()); // none missing, none twice
    await expect(page.locator("#reconnects")).toHaveText("1");

    await page.locator(`#payments tbody tr[data-id="${during[0]!.id}"]`).click();
    await expect(page.locator("#detail-fields")).toHaveAttribute("data-status", "COMPLETED");

    // For the README's screenshot: life cycles, failures and refunds too.
    await produce(bin, topics.raw, { count: 40, seed: 1506, rate: 40, mix: "realistic" });
    await expect.poll(async () => Number(await page.locator("#total").textContent())).toBeGreaterThan(all.length);
    await page.waitForTimeout(1500); // one more stats poll, so the charts show the last second
    await page.screenshot({ path: process.env.UPDATE_SCREENSHOT ? SCREENSHOT : test.info().outputPath("dashboard.png") });
    expect(consoleErrors).toEqual([]);
  } finally {
    await server.stop();
  }
});

test("with a token set, the page asks for it and keeps it in the tab only", async ({ page }) => {
  const skip = await kafkaSkipReason();
  test.skip(skip !== undefined, skip);
  const token = `dash-token-${process.pid}-${Date.now()}`;
  // The refused calls before the token is typed are the browser's 401s: expected here.
  const consoleErrors: string[] = [];
  page.on("pageerror", (e) => consoleErrors.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" && !/status of 401/.test(m.text())) consoleErrors.push(m.text());
  });

  const bin = await buildBinaries();
  const topics = newTopics("dashboard-token", thisTest());
  const dashAddr = `127.0.0.1:${await freePort()}`;
  const server = await startServer(bin, topics, { env: { DASHBOARD_ADDR: dashAddr, GRPC_AUTH_TOKEN: token } });
  try {
    for (const asset of ["/", "/app.js", "/app.css"]) {
      const res = await page.request.get(`http://${dashAddr}${asset}`);
      expect(res.status()).toBe(200);
      expect(await res.text()).not.toContain(token);
    }
    await page.goto(`http://${dashAddr}/`);
    await expect(page.locator("#token-form")).toBeVisible();
    await expect(page.locator("#connection")).toHaveText("Token needed");

    await page.fill("#token", "a wrong guess");
    await page.click("#token-form button");
    await expect(page.locator("#connection")).toHaveText("Token refused");
    await expect(page.locator("#token-form")).toBeVisible();

    await page.fill("#token", token);
    await page.click("#token-form button");
    await expect(page.locator("#token-form")).toBeHidden();
    await expect(page.locator("#clients")).toHaveText("1");
    expect(await page.evaluate(() => sessionStorage.getItem("payments.token"))).toBe(token);
    expect(await page.evaluate(() => localStorage.length)).toBe(0);

    const sent = await produce(bin, topics.raw, { count: 3, seed: 1507, gateways: "razorpay" });
    await expect.poll(async () => (await rowIds(page)).sort()).toEqual(sent.map((s) => s.id).sort());
    expect(consoleErrors).toEqual([]);
  } finally {
    await server.stop();
  }
});
