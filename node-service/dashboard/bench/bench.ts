// Dashboard figures for `make bench`: the real server and producer on the
// local Kafka, the page in headless Chromium (Debian's chromium, as in the
// browser test).
//
//  1. latency: time from a payment's Kafka acknowledgement (the producer
//     prints "Sent:" only once Kafka has acknowledged the record) to its row
//     appearing in the page, at --rate payments/s for --seconds;
//  2. memory: the page's JS heap (after a forced GC) and DOM node count
//     before and after --flood payments sent as fast as the pipeline takes
//     them: the table is capped, so both must stay flat.
//
// Usage: npx tsx dashboard/bench/bench.ts [--rate 100] [--seconds 20] [--flood 100000] [--out DIR]
import { execSync, spawn } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { chromium, type Page } from "@playwright/test";
import { buildBinaries, deletePassedTopics, freePort, killAll, newTopics, produce, removeBinaries, startServer } from "../../test/harness";

const { values: args } = parseArgs({
  options: {
    rate: { type: "string", default: "100" },
    seconds: { type: "string", default: "20" },
    flood: { type: "string", default: "100000" },
    out: { type: "string", default: "" },
  },
});
const rate = Number(args.rate);
const seconds = Number(args.seconds);
const flood = Number(args.flood);

function chromiumPath(): string {
  return process.env.CHROMIUM || execSync("command -v chromium", { shell: "/bin/sh", encoding: "utf8" }).trim();
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

// sendTimed runs the producer and notes when each "Sent:" line (an acknowledged record) arrives.
function sendTimed(producer: string, topic: string, count: number, perSecond: number): Promise<Map<string, number>> {
  const acked = new Map<string, number>();
  const proc = spawn(producer, ["--topic", topic, "--count", String(count), "--rate", String(perSecond), "--seed", String(Date.now() % 1e9),
    "--gateways", "stripe,razorpay,paypal,adyen,square"], { env: { ...process.env, ENV_FILE: "/nonexistent", LOG_FORMAT: "text" }, stdio: ["ignore", "pipe", "inherit"] });
  createInterface({ input: proc.stdout! }).on("line", (line) => {
    const m = /Sent: (\S+) \|/.exec(line);
    if (m) acked.set(m[1]!, Date.now());
  });
  return new Promise((resolve, reject) => proc.on("close", (code) => (code === 0 ? resolve(acked) : reject(new Error(`producer exited with ${code}`)))));
}

async function pageMemory(page: Page): Promise<{ heapMiB: number; domNodes: number; rows: number }> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("HeapProfiler.collectGarbage");
  await cdp.send("Performance.enable");
  const { metrics } = await cdp.send("Performance.getMetrics");
  const metric = (name: string) => metrics.find((m) => m.name === name)?.value ?? NaN;
  const rows = await page.locator("#payments tbody tr").count();
  await cdp.detach();
  return { heapMiB: metric("JSHeapUsedSize") / (1 << 20), domNodes: metric("Nodes"), rows };
}

async function main(): Promise<void> {
  const bin = await buildBinaries();
  const run = { passed: false }; // its topics are deleted after a run that finished
  const topics = newTopics("dashboard-bench", run);
  const port = await freePort();
  const server = await startServer(bin, topics, { env: { DASHBOARD_ADDR: `127.0.0.1:${port}` } });
  const browser = await chromium.launch({ executablePath: chromiumPath(), headless: true });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.locator("#clients").filter({ hasText: /^1$/ }).waitFor({ timeout: 30_000 });
    // Every row the page adds, with the time it was added.
    await page.evaluate(() => {
      const w = window as unknown as { seen: Map<string, number>; added: number };
      w.seen = new Map();
      w.added = 0;
      new MutationObserver((changes) => {
        const now = Date.now();
        for (const c of changes) for (const n of c.addedNodes) {
          const id = (n as HTMLElement).dataset?.id;
          if (!id) continue;
          w.added++;
          if (!w.seen.has(id)) w.seen.set(id, now);
        }
      }).observe(document.querySelector("#payments tbody")!, { childList: true });
    });
    const count = Math.max(1, Math.round(rate * seconds));
    console.log(`[BENCH] dashboard latency: ${count} payments at ${rate}/s`);
    const acked = await sendTimed(bin.producer, topics.raw, count, rate);
    await page.waitForFunction((n) => (window as unknown as { seen: Map<string, number> }).seen.size >= n, acked.size, { timeout: 60_000 }).catch(() => {});
    const seen = new Map(await page.evaluate(() => [...(window as unknown as { seen: Map<string, number> }).seen]));
    const lat = [...acked].filter(([id]) => seen.has(id)).map(([id, t]) => seen.get(id)! - t).sort((a, b) => a - b);
    const latency = { payments: acked.size, shown: lat.length, p50Ms: percentile(lat, 50), p99Ms: percentile(lat, 99), maxMs: lat.at(-1) ?? NaN };

    const before = await pageMemory(page);
    console.log(`[BENCH] dashboard memory: ${flood} payments as fast as the pipeline takes them`);
    const added0 = await page.evaluate(() => (window as unknown as { added: number }).added);
    const began = Date.now();
    await produce(bin, topics.raw, { count: flood, seed: (Date.now() + 1) % 1e9, rate: 0, gateways: "stripe,razorpay,paypal,adyen,square" });
    await page.waitForFunction((n) => (window as unknown as { added: number }).added >= n, added0 + flood, { timeout: 600_000, polling: 500 });
    const floodSeconds = (Date.now() - began) / 1000;
    const after = await pageMemory(page);
    const result = { rate, seconds, latency, flood, floodSeconds, before, after };

    const row = (name: string, v: string) => console.log(`| ${name} | ${v} |`);
    console.log("\n| dashboard | result |\n|---|---|");
    row(`Kafka ack → row in the page, ${rate} payments/s`, `p50 ${latency.p50Ms} ms, p99 ${latency.p99Ms} ms, max ${latency.maxMs} ms (${latency.shown}/${latency.payments} shown)`);
    row(`page after ${count} payments`, `JS heap ${before.heapMiB.toFixed(1)} MiB, ${before.domNodes} DOM nodes, ${before.rows} rows`);
    row(`page after ${flood} more (${floodSeconds.toFixed(0)} s, as fast as the pipeline went)`, `JS heap ${after.heapMiB.toFixed(1)} MiB, ${after.domNodes} DOM nodes, ${after.rows} rows`);
    if (args.out) {
      await mkdir(args.out, { recursive: true });
      await writeFile(path.join(args.out, "dashboard.json"), JSON.stringify(result, null, 2) + "\n");
    }
    if (latency.shown !== latency.payments) throw new Error(`${latency.payments - latency.shown} payment(s) never appeared in the page`);
    run.passed = true;
  } finally {
    await browser.close();
    await server.stop();
  }
}

main()
  .catch((err) => {
    console.error("[BENCH] dashboard:", err);
    process.exitCode = 1;
  })
  .finally(async () => {
    killAll();
    await deletePassedTopics();
    await removeBinaries();
  });
