// The client and the CLI against the REAL Go server on REAL Kafka: payments
// come from the producer binary, through Kafka and the server's ingest and
// serve stages. Kafka must run at $KAFKA_BOOTSTRAP_SERVERS (127.0.0.1:9092;
// `make kafka-up`); without it these tests are skipped, or fail when
// REQUIRE_KAFKA is set.
import { after, describe, test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import assert from "node:assert/strict";
import { PaymentClient, type PaymentEvent, type ReconnectInfo, isStatus } from "../src/client";
import { minorUnits, paymentLine, toDecimal } from "../src/format";
import { Gateway, type Payment, PaymentStatus, StartPosition, type StreamPaymentsRequest, gatewayToJSON, paymentStatusToJSON } from "../src/gen/payment";
import { readFile, rm } from "node:fs/promises";
import {
  type Sent,
  buildBinaries,
  deletePassedTopics,
  kafkaSkipReason,
  killAll,
  newTopics,
  produce,
  removeBinaries,
  runCli,
  selfSignedCert,
  startCli,
  startProducer,
  startServer,
  take,
} from "./harness";
import { status as grpcStatus } from "@grpc/grpc-js";

after(async () => {
  killAll();
  await deletePassedTopics();
  await removeBinaries();
});

const key = (p: Payment) => `${gatewayToJSON(p.gateway)}/${p.id}`;
const eventKey = (e: PaymentEvent) => `${gatewayToJSON(e.payment.gateway)}/${e.payment.eventId}`;
const sentKey = (s: Sent) => `GATEWAY_${s.gateway.toUpperCase()}/${s.id}`;

interface JSONPayment {
  id: string;
  gateway: string;
  status: string;
  eventId: string;
  amount: { amountMinor: string; currency: string };
}

// jsonLines reads streamed --json output: one {"payment":…,"cursor":…} per
// line; every payment comes with its cursor.
function jsonLines(stdout: string): JSONPayment[] {
  return stdout.split("\n").filter((l) => l !== "").map((l) => {
    const line = JSON.parse(l) as { payment: JSONPayment; cursor?: string };
    assert.match(line.cursor ?? "", /^c1\./, `a --json line without its cursor: ${l}`);
    return line.payment;
  });
}

// The latest state of every payment: the last event of each in stream order.
function latest(events: PaymentEvent[]): Map<string, Payment> {
  const m = new Map<string, Payment>();
  for (const e of events) m.set(key(e.payment), e.payment);
  return m;
}

// The three tests use topics and servers of their own: they run side by side.
describe("against the real server and Kafka", { concurrency: true }, () => {
  test("client and CLI against the real server and Kafka", { timeout: 150_000 }, async (t) => {
    const skip = await kafkaSkipReason();
    if (skip) {
      t.skip(skip);
      return;
    }
    const bin = await buildBinaries();
    const topics = newTopics("it", t);
    const server = await startServer(bin, topics);
    t.after(() => server.stop());
    const client = new PaymentClient({ address: server.addr });
    t.after(() => client.close());

    // 40 completed payments, one event each; then 80 events of payments going
    // through their life cycles, some malformed on purpose, some duplicated.
    const simple = await produce(bin, topics.raw, { count: 40, seed: 4242 });
    const realistic = await produce(bin, topics.raw, { count: 80, seed: 4343, mix: "realistic", invalidRate: 0.1 });
    const sent = [...simple, ...realistic];
    const valid = sent.filter((s) => !s.malformed && !s.duplicate);
    const malformed = sent.filter((s) => s.malformed).length;
    const distinct = new Set(valid.map(sentKey));
    assert.ok(malformed > 0 && realistic.some((s) => s.duplicate), "the realistic batch has malformed and duplicate records");

    // Wait until the server has ingested everything.
    let stats = await client.getStats();
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
      stats = await client.getStats({ timeoutMs: 5000 });
      if (stats.paymentsTotal === BigInt(distinct.size) && stats.dlqCount === BigInt(malformed)) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(stats.paymentsTotal, BigInt(distinct.size), "payments ingested");
    assert.equal(stats.dlqCount, BigInt(malformed), "records dead-lettered");
    const eventCount = valid.length - Number(stats.skippedCount);

    // Every event from the start; reading on a while shows nothing more comes.
    const all = await take(client, { start: StartPosition.START_POSITION_EARLIEST }, eventCount, { quietMs: 1000 });
    const finals = latest(all);

    await t.test("payments() yields every payment exactly once, with its fields", () => {
      assert.equal(all.length, eventCount, "no more events than were sent");
      assert.equal(new Set(all.map(eventKey)).size, all.length, "no event twice");
      assert.deepEqual(new Set(all.map((e) => key(e.payment))), distinct, "every payment sent, and only those");
      const byKey = new Map(all.map((e) => [key(e.payment), e]));
      for (const s of simple) {
        const matches = all.filter((e) => key(e.payment) === sentKey(s));
        assert.equal(matches.length, 1, `${s.id}: one event`);
        const p = byKey.get(sentKey(s))?.payment;
        assert.ok(p);
        assert.equal(p.gateway, Gateway[`GATEWAY_${s.gateway.toUpperCase()}` as keyof typeof Gateway]);
        assert.equal(p.status, PaymentStatus.PAYMENT_STATUS_COMPLETED);
        assert.ok(p.amount && /^[A-Z]{3}$/.test(p.amount.currency));
        // The producer prints "$50.00", "₹1000.00" or "3.958 KWD": the same digits.
        assert.equal(/\d+(\.\d+)?/.exec(s.money)?.[0], toDecimal(p.amount.amountMinor, minorUnits(p.amount.currency)), `${s.id} amount`);
        assert.ok(p.updatedAt, `${s.id} event time`); // (Adyen's notifications carry no creation time)
        assert.ok(p.eventId !== "" && p.method !== "", `${s.id} event id and method`);
        assert.equal(p.source?.topic, topics.raw);
      }
      for (const e of all) assert.match(e.cursor, /^c1\./);
    });

    await t.test("filters return only, and all, matching payments", async () => {
      const cases: Array<[string, Partial<StreamPaymentsRequest>, (p: Payment) => boolean]> = [
        ["gateway", { gateways: [Gateway.GATEWAY_STRIPE, Gateway.GATEWAY_RAZORPAY] }, (p) => p.gateway === Gateway.GATEWAY_STRIPE || p.gateway === Gateway.GATEWAY_RAZORPAY],
        ["currency", { currencies: ["USD", "INR"] }, (p) => p.amount?.currency === "USD" || p.amount?.currency === "INR"],
        ["status", { statuses: [PaymentStatus.PAYMENT_STATUS_AUTHORIZED, PaymentStatus.PAYMENT_STATUS_FAILED] },
          (p) => p.status === PaymentStatus.PAYMENT_STATUS_AUTHORIZED || p.status === PaymentStatus.PAYMENT_STATUS_FAILED],
        ["all three", { gateways: [Gateway.GATEWAY_PAYPAL, Gateway.GATEWAY_ADYEN, Gateway.GATEWAY_SQUARE], currencies: ["USD", "EUR", "GBP", "JPY"], statuses: [PaymentStatus.PAYMENT_STATUS_COMPLETED] },
          (p) => [Gateway.GATEWAY_PAYPAL, Gateway.GATEWAY_ADYEN, Gateway.GATEWAY_SQUARE].includes(p.gateway) && ["USD", "EUR", "GBP", "JPY"].includes(p.amount?.currency ?? "") && p.status === PaymentStatus.PAYMENT_STATUS_COMPLETED],
      ];
      await Promise.all(cases.map(async ([name, filter, match]) => {
        const want = all.filter((e) => match(e.payment)).map(eventKey);
        assert.ok(want.length > 0 && want.length < all.length, `${name}: a filter that selects some`);
        const got = await take(client, { ...filter, start: StartPosition.START_POSITION_EARLIEST }, want.length, { quietMs: 700 });
        assert.deepEqual(got.map(eventKey), want, `${name}: the matching events, in order, and nothing else`);
      }));
    });

    await t.test("CLI: filters by name, --json, and the [LOG] lines", async () => {
      const match = (p: Payment) =>
        (p.gateway === Gateway.GATEWAY_STRIPE || p.gateway === Gateway.GATEWAY_RAZORPAY) &&
        (p.status === PaymentStatus.PAYMENT_STATUS_COMPLETED || p.status === PaymentStatus.PAYMENT_STATUS_REFUNDED);
      const want = all.filter((e) => match(e.payment));
      const usd = all.filter((e) => e.payment.amount?.currency === "USD").slice(0, 3);
      const [json, human] = await Promise.all([
        runCli(["--server", server.addr, "--from", "earliest", "--gateway", "Stripe,RAZORPAY", "--status", "completed", "--status", "refunded", "--json", "--count", String(want.length)]),
        runCli(["--server", server.addr, "--from", "earliest", "--currency", "usd", "--count", "3"]),
      ]);
      assert.equal(json.code, 0, json.stderr);
      assert.match(json.stderr, /^\[CLIENT\] Connected to gRPC server$/m);
      assert.deepEqual(jsonLines(json.stdout).map((p) => `${p.gateway}/${p.eventId}`), want.map(eventKey));
      assert.equal(human.code, 0, human.stderr);
      assert.equal(human.stdout,
        "[CLIENT] Connected to gRPC server\n" +
        usd.map((e) => paymentLine(e.payment) + "\n").join("") +
        `[CLIENT] Received 3 payment(s); resume with --from ${usd[2]?.cursor}\n`);
      for (const line of human.stdout.split("\n").filter((l) => l.startsWith("[LOG]"))) {
        assert.match(line, /^\[LOG\] Payment: \S+ \| \S+ USD \| (STRIPE|RAZORPAY|PAYPAL|ADYEN|SQUARE) \| [A-Z_]+$/);
      }
    });

    await t.test("--from <cursor> resumes strictly after that payment", async () => {
      const k = 25;
      const cursor = all[k - 1]?.cursor ?? "";
      const rest = all.slice(k).map(eventKey);
      const [cli, lib, afterLast] = await Promise.all([
        runCli(["--server", server.addr, "--from", cursor, "--json", "--count", String(rest.length)]),
        take(client, { cursor }, rest.length, { quietMs: 700 }),
        take(client, { cursor: all.at(-1)?.cursor ?? "" }, 0, { quietMs: 700 }),
      ]);
      assert.equal(cli.code, 0, cli.stderr);
      assert.deepEqual(jsonLines(cli.stdout).map((p) => `${p.gateway}/${p.eventId}`), rest);
      assert.deepEqual(lib.map(eventKey), rest);
      assert.deepEqual(afterLast, [], "nothing after the last cursor");
      const bad = await runCli(["--server", server.addr, "--from", "c1.not-a-cursor!"]);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /^\[CLIENT\] Error: INVALID_ARGUMENT: cursor: /m);
    });

    await t.test("get: the latest state of a payment; exit 1 when unknown", async () => {
      // A payment with several events, and one with one.
      const counts = new Map<string, number>();
      for (const e of all) counts.set(key(e.payment), (counts.get(key(e.payment)) ?? 0) + 1);
      const many = [...finals.values()].find((p) => (counts.get(key(p)) ?? 0) > 1);
      const one = [...finals.values()].find((p) => counts.get(key(p)) === 1);
      assert.ok(many && one);
      const gw = (p: Payment) => gatewayToJSON(p.gateway).replace("GATEWAY_", "").toLowerCase();
      const [a, b, missing] = await Promise.all([
        runCli(["--server", server.addr, "get", gw(many), many.id]),
        runCli(["--server", server.addr, "get", gw(one).toUpperCase(), one.id, "--json"]),
        runCli(["--server", server.addr, "get", "stripe", "pi_doesNotExist"]),
      ]);
      assert.equal(a.code, 0, a.stderr);
      assert.equal(a.stdout, paymentLine(many) + "\n");
      assert.equal(b.code, 0, b.stderr);
      const p = JSON.parse(b.stdout) as JSONPayment; // get prints the Payment alone: it has no cursor
      assert.equal(p?.id, one.id);
      assert.equal(p?.eventId, one.eventId);
      assert.equal(missing.code, 1);
      assert.equal(missing.stderr, "[CLIENT] Error: payment not found: the server knows no stripe payment with id \"pi_doesNotExist\"\n");
      await assert.rejects(client.getPayment(Gateway.GATEWAY_STRIPE, "pi_doesNotExist"), (err: unknown) => isStatus(err, grpcStatus.NOT_FOUND));
    });

    await t.test("stats: sums match what was sent and streamed", async () => {
      const [json, table] = await Promise.all([
        runCli(["--server", server.addr, "stats", "--json"]),
        runCli(["--server", server.addr, "stats"]),
      ]);
      assert.equal(json.code, 0, json.stderr);
      const s = JSON.parse(json.stdout) as {
        paymentsTotal: string; dlqCount: string;
        paymentsByGateway: Record<string, string>; paymentsByStatus: Record<string, string>;
        totalsByCurrency: Record<string, string>; dlqByCode: Record<string, string>;
      };
      const sum = (m: Record<string, string>) => Object.values(m).reduce((a, v) => a + BigInt(v), 0n);
      assert.equal(s.paymentsTotal, String(distinct.size));
      assert.equal(sum(s.paymentsByGateway), BigInt(distinct.size));
      assert.equal(sum(s.paymentsByStatus), BigInt(distinct.size));
      assert.equal(s.dlqCount, String(malformed));
      assert.equal(sum(s.dlqByCode), BigInt(malformed));
      // Per status and per currency, from the latest state of every payment streamed.
      const byStatus: Record<string, string> = {};
      const byGateway: Record<string, string> = {};
      const totals: Record<string, string> = {};
      const add = (m: Record<string, string>, k: string, v: bigint) => (m[k] = String(BigInt(m[k] ?? "0") + v));
      for (const p of finals.values()) {
        add(byStatus, paymentStatusToJSON(p.status), 1n);
        add(byGateway, gatewayToJSON(p.gateway), 1n);
        add(totals, p.amount?.currency ?? "", p.amount?.amountMinor ?? 0n);
      }
      assert.deepEqual(s.paymentsByStatus, byStatus);
      assert.deepEqual(s.paymentsByGateway, byGateway);
      assert.deepEqual(s.totalsByCurrency, totals);

      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, new RegExp(`^  total \\(distinct payments\\) +${distinct.size}$`, "m"));
      for (const [g, n] of Object.entries(byGateway)) assert.match(table.stdout, new RegExp(`^  ${g.replace("GATEWAY_", "")} +${n}$`, "m"));
    });

    await t.test("Ctrl-C: exit 0 with the summary line", async () => {
      const cli = startCli(["--server", server.addr]);
      await cli.waitFor(/\[CLIENT\] Connected to gRPC server/);
      cli.kill("SIGINT");
      const r = await cli.done;
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "[CLIENT] Connected to gRPC server\n[CLIENT] Received 0 payment(s)\n");
    });
  });

  test("resume across a server restart: every payment exactly once", { timeout: 120_000 }, async (t) => {
    const skip = await kafkaSkipReason();
    if (skip) {
      t.skip(skip);
      return;
    }
    const bin = await buildBinaries();
    const topics = newTopics("restart", t);
    const first = await startServer(bin, topics);
    t.after(() => first.stop());
    let second: Awaited<ReturnType<typeof startServer>> | undefined;
    t.after(() => second?.stop());

    // Both clients are connected before the first payment is sent; payments
    // then keep coming for about 5 s, across the restart.
    const count = 150;
    const cli = startCli(["--server", first.addr, "--from", "earliest", "--json", "--count", String(count)], {}, 90_000);
    t.after(() => cli.kill("SIGKILL"));
    await cli.waitFor(/\[CLIENT\] Connected to gRPC server/);
    const client = new PaymentClient({ address: first.addr });
    t.after(() => client.close());
    const producer = startProducer(bin, topics.raw, { count, seed: 777, rate: 30 });

    const reconnects: ReconnectInfo[] = [];
    const got: PaymentEvent[] = [];
    let restart: Promise<void> | undefined;
    let receivedAtReconnect: number | undefined;
    let firstExit: number | null | undefined;
    const signal = AbortSignal.timeout(90_000);
    for await (const ev of client.payments({ start: StartPosition.START_POSITION_EARLIEST }, {
      signal,
      backoff: { initialMs: 100, maxMs: 1000 },
      onReconnect: (i) => {
        reconnects.push(i);
        receivedAtReconnect ??= got.length;
      },
    })) {
      got.push(ev);
      if (got.length === 30) {
        // SIGTERM: the server ends open streams with UNAVAILABLE and exits;
        // a new one takes over the same topics, group and port.
        restart = (async () => {
          firstExit = await first.stop();
          second = await startServer(bin, topics, { port: first.port });
        })();
      }
      if (got.length === count) break;
    }
    await restart;
    assert.equal(firstExit, 0, `first server exit\n${first.log()}`);
    const sent = (await producer.done).filter((s) => !s.malformed && !s.duplicate);
    const want = new Set(sent.map(sentKey));
    assert.equal(want.size, count);

    assert.equal(got.length, count, `received ${got.length} of ${count} (signal aborted: ${signal.aborted})`);
    assert.deepEqual(new Set(got.map((e) => key(e.payment))), want, "every payment once: none twice, none missing");
    assert.ok(reconnects.length >= 1, `the library reconnected (restart ${restart ? "done" : "never started"})`);
    assert.match(reconnects[0]?.cursor ?? "", /^c1\./);
    assert.ok((receivedAtReconnect ?? count) < count - 50, `most payments came after the restart (${receivedAtReconnect} before)`);

    const r = await cli.done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^\[CLIENT\] Connected to gRPC server$/m);
    assert.match(r.stderr, /^\[CLIENT\] Reconnected, resuming after c1\.\S+$/m);
    assert.match(r.stderr, new RegExp(`^\\[CLIENT\\] Received ${count} payment\\(s\\); resume with --from c1\\.\\S+$`, "m"));
    const printed = jsonLines(r.stdout).map((p) => `${p.gateway}/${p.id}`);
    assert.equal(printed.length, count);
    assert.deepEqual(new Set(printed), want, "the CLI printed every payment once");
  });

  test("--from <RFC 3339 time> starts at that event time", { timeout: 120_000 }, async (t) => {
    const skip = await kafkaSkipReason();
    if (skip) {
      t.skip(skip);
      return;
    }
    const bin = await buildBinaries();
    const topics = newTopics("since", t);
    const server = await startServer(bin, topics);
    t.after(() => server.stop());
    const client = new PaymentClient({ address: server.addr });
    t.after(() => client.close());

    // A few payments, then, once the clock is past all of them, a few more:
    // --from the instant between them must give exactly the second batch.
    await produce(bin, topics.raw, { count: 3, seed: 31 });
    const early = await take(client, { start: StartPosition.START_POSITION_EARLIEST }, 3);
    const lastEarly = Math.max(...early.map((e) => e.payment.updatedAt?.getTime() ?? 0));
    const since = new Date(Math.ceil((Math.max(Date.now(), lastEarly) + 1) / 1000) * 1000);
    await delay(since.getTime() - Date.now() + 50);
    const later = (await produce(bin, topics.raw, { count: 5, seed: 32 })).map(sentKey);

    // The same instant written with an offset, as RFC 3339 allows.
    const local = new Date(since.getTime() + 5.5 * 3600_000).toISOString().replace(/\.000Z$/, "+05:30");
    const [cli, lib] = await Promise.all([
      runCli(["--server", server.addr, "--from", local, "--json", "--count", "5"], {}, 30_000),
      take(client, { since }, 5, { quietMs: 700 }),
    ]);
    assert.equal(cli.code, 0, `--from ${local} (${since.toISOString()}): ${cli.stderr}\n${cli.stdout}`);
    assert.deepEqual(new Set(jsonLines(cli.stdout).map((p) => `${p.gateway}/${p.id}`)), new Set(later));
    assert.equal(lib.length, 5, "nothing from before the instant");
    assert.deepEqual(new Set(lib.map((e) => key(e.payment))), new Set(later));
    for (const e of lib) assert.ok((e.payment.updatedAt?.getTime() ?? 0) >= since.getTime());
  });

  test("TLS and the bearer token against a server that requires both", { timeout: 120_000 }, async (t) => {
    const skip = await kafkaSkipReason();
    if (skip) {
      t.skip(skip);
      return;
    }
    const bin = await buildBinaries();
    const tls = await selfSignedCert();
    t.after(() => rm(tls.dir, { recursive: true, force: true }));
    const ca = await readFile(tls.cert);
    const topics = newTopics("secure", t);
    const server = await startServer(bin, topics, {
      ca,
      env: { GRPC_AUTH_TOKEN: "s3cret-token", GRPC_TLS_CERT: tls.cert, GRPC_TLS_KEY: tls.key },
    });
    t.after(() => server.stop());
    const sent = (await produce(bin, topics.raw, { count: 3, seed: 55 })).map(sentKey);

    const common = ["--server", server.addr, "--ca", tls.cert, "--timeout", "5"];
    const [flag, env, noToken, plaintext, stats, get] = await Promise.all([
      runCli([...common, "--token", "s3cret-token", "--from", "earliest", "--count", "3", "--json"]),
      runCli([...common, "--from", "earliest", "--count", "3", "--json"], { GRPC_TOKEN: "s3cret-token" }),
      runCli([...common, "--from", "earliest"]),
      runCli(["--server", server.addr, "--token", "s3cret-token", "--timeout", "2", "stats"]),
      runCli([...common, "--token", "s3cret-token", "stats", "--json"]),
      runCli([...common, "get", "stripe", "pi_whatever"]),
    ]);
    for (const r of [flag, env]) {
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(new Set(jsonLines(r.stdout).map((p) => `${p.gateway}/${p.id}`)), new Set(sent));
    }
    assert.equal(noToken.code, 1, "a missing token is not retried");
    assert.match(noToken.stdout + noToken.stderr, /\[CLIENT\] Error: UNAUTHENTICATED: /);
    assert.doesNotMatch(noToken.stdout, /Reconnect/);
    assert.equal(plaintext.code, 1, "plaintext to a TLS server fails");
    assert.equal(stats.code, 0, stats.stderr);
    assert.equal((JSON.parse(stats.stdout) as { paymentsTotal?: string }).paymentsTotal, "3");
    assert.equal(get.code, 1);
    assert.match(get.stderr, /^\[CLIENT\] Error: UNAUTHENTICATED: /);

    const client = new PaymentClient({ address: server.addr, ca });
    t.after(() => client.close());
    await assert.rejects(async () => {
      for await (const _ of client.payments({ start: StartPosition.START_POSITION_EARLIEST })) assert.fail("no payment without the token");
    }, (err: unknown) => isStatus(err, grpcStatus.UNAUTHENTICATED));
  });
});
