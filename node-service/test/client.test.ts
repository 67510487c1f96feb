// The library's pure parts (backoff, request building) and its reconnection
// logic against a scripted in-process gRPC server.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import {
  DEFAULT_BACKOFF,
  type DisconnectInfo,
  PaymentClient,
  type PaymentEvent,
  type ReconnectInfo,
  backoffCeiling,
  backoffDelay,
  describeError,
  fullRequest,
  isRetryable,
  isStatus,
} from "../src/client";
import { Gateway, PaymentStatus, StartPosition } from "../src/gen/payment";
import { type StreamCall, fail, payment, payments, send, serviceError, startFake, startIndex } from "./scripted-server";

const FAST = { initialMs: 1, maxMs: 5 };

describe("backoff", () => {
  test("ceiling doubles from 250 ms and is capped at 10 s", () => {
    assert.deepEqual(
      Array.from({ length: 9 }, (_, n) => backoffCeiling(n)),
      [250, 500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000],
    );
    assert.equal(backoffCeiling(1000), 10_000, "huge attempt counts stay at the cap");
    assert.equal(backoffCeiling(-3), 250, "negative attempts count as the first");
    assert.deepEqual(DEFAULT_BACKOFF, { initialMs: 250, maxMs: 10_000, multiplier: 2 });
  });

  test("full jitter: a whole number in [0, ceiling)", () => {
    for (let attempt = 0; attempt < 30; attempt++) {
      const ceiling = backoffCeiling(attempt);
      assert.equal(backoffDelay(attempt, {}, () => 0), 0);
      assert.equal(backoffDelay(attempt, {}, () => 0.5), Math.floor(ceiling / 2));
      for (const r of [0.999999999, 1, 1.5]) {
        const d = backoffDelay(attempt, {}, () => r);
        assert.ok(d < ceiling && d >= ceiling - 1, `attempt ${attempt}, random ${r}: ${d} vs ${ceiling}`);
      }
      for (let i = 0; i < 50; i++) {
        const d = backoffDelay(attempt);
        assert.ok(Number.isInteger(d) && d >= 0 && d < ceiling, `attempt ${attempt}: ${d}`);
      }
    }
  });

  test("custom parameters", () => {
    const b = { initialMs: 100, maxMs: 1000, multiplier: 3 };
    assert.deepEqual([0, 1, 2, 3].map((n) => backoffCeiling(n, b)), [100, 300, 900, 1000]);
    assert.equal(backoffDelay(2, b, () => 0.5), 450);
  });
});

test("retryable codes", () => {
  const err = (code: grpc.status) => serviceError(code, "x");
  for (const c of [grpc.status.UNAVAILABLE, grpc.status.RESOURCE_EXHAUSTED, grpc.status.INTERNAL, grpc.status.UNKNOWN, grpc.status.DEADLINE_EXCEEDED]) {
    assert.ok(isRetryable(err(c)), grpc.status[c]);
  }
  for (const c of [grpc.status.INVALID_ARGUMENT, grpc.status.UNAUTHENTICATED, grpc.status.PERMISSION_DENIED, grpc.status.OUT_OF_RANGE, grpc.status.NOT_FOUND, grpc.status.UNIMPLEMENTED, grpc.status.CANCELLED]) {
    assert.ok(!isRetryable(err(c)), grpc.status[c]);
  }
  assert.ok(!isRetryable(new Error("not a gRPC error")));
  assert.equal(describeError(err(grpc.status.NOT_FOUND)), "NOT_FOUND: x");
});

test("fullRequest fills in defaults and keeps what is given", () => {
  assert.deepEqual(fullRequest({}), { gateways: [], currencies: [], statuses: [], start: StartPosition.START_POSITION_UNSPECIFIED, cursor: "", since: undefined });
  const since = new Date("2026-11-25T10:00:00Z");
  assert.deepEqual(fullRequest({ gateways: [Gateway.GATEWAY_ADYEN], cursor: "c1.x", since }), {
    gateways: [Gateway.GATEWAY_ADYEN], currencies: [], statuses: [], start: StartPosition.START_POSITION_UNSPECIFIED, cursor: "c1.x", since,
  });
});

// collect runs payments() to its end (or `limit` payments) with a deadline.
async function collect(client: PaymentClient, opts: Parameters<PaymentClient["payments"]>[1] = {}, limit = Infinity, request = {}) {
  const got: PaymentEvent[] = [];
  const disconnects: DisconnectInfo[] = [];
  const reconnects: ReconnectInfo[] = [];
  const signal = opts.signal ?? AbortSignal.timeout(10_000);
  for await (const ev of client.payments(request, {
    backoff: FAST,
    ...opts,
    signal,
    onDisconnect: (i) => disconnects.push(i),
    onReconnect: (i) => reconnects.push(i),
  })) {
    got.push(ev);
    if (got.length >= limit) break;
  }
  return { got, disconnects, reconnects };
}

describe("payments() against a scripted server", () => {
  const stops: Array<() => Promise<void>> = [];
  after(async () => {
    for (const stop of stops) await stop();
  });
  async function fake(handlers: Parameters<typeof startFake>[0]) {
    const f = await startFake(handlers);
    const client = new PaymentClient({ address: f.address, token: "s3cret" });
    stops.push(async () => {
      client.close();
      await f.stop();
    });
    return { f, client };
  }

  const retryable: Array<[string, (call: StreamCall) => void]> = [
    ["UNAVAILABLE", (c) => fail(c, grpc.status.UNAVAILABLE, "server is shutting down")],
    ["RESOURCE_EXHAUSTED", (c) => fail(c, grpc.status.RESOURCE_EXHAUSTED, "lapped")],
    ["INTERNAL", (c) => fail(c, grpc.status.INTERNAL, "oops")],
    ["UNKNOWN", (c) => fail(c, grpc.status.UNKNOWN, "?")],
    ["DEADLINE_EXCEEDED", (c) => fail(c, grpc.status.DEADLINE_EXCEEDED, "slow")],
    ["a clean end of stream", (c) => c.end()],
  ];
  for (const [name, breakStream] of retryable) {
    test(`resumes after ${name} from the last cursor: every payment once, in order`, async () => {
      const list = payments(10);
      // Call 0 sends 0–2, call 1 sends nothing, call 2 sends 3–6, call 3 the rest.
      const plan = [3, 0, 4, 100];
      const { f, client } = await fake({
        stream: (call, n) => {
          const from = startIndex(call.request);
          send(call, list, from, from + (plan[n] ?? 0));
          if (n < plan.length - 1) breakStream(call);
        },
      });
      const { got, disconnects, reconnects } = await collect(client, {}, 10);
      assert.deepEqual(got.map((e) => e.payment.id), list.map((p) => p.id));
      assert.deepEqual(got.map((e) => e.cursor), list.map((_, i) => `k${i}`));
      assert.deepEqual(f.requests.map((r) => r.cursor), ["", "k2", "k2", "k6"]);
      assert.deepEqual(disconnects.map((d) => [d.cursor, d.attempt]), [["k2", 0], ["k2", 1], ["k6", 0]], "attempts reset after a payment");
      // Call 1 ended before it sent anything (no response headers): it was
      // never accepted, so it is not a reconnection.
      assert.deepEqual(reconnects.map((r) => r.cursor), ["k2", "k6"]);
      for (const d of disconnects) {
        assert.ok(d.delayMs >= 0 && d.delayMs < backoffCeiling(d.attempt, FAST));
        if (name === "a clean end of stream") assert.equal(d.error, undefined);
        else assert.ok(isStatus(d.error, grpc.status[name as keyof typeof grpc.status] as grpc.status), describeError(d.error));
      }
    });
  }

  const fatal = [
    grpc.status.INVALID_ARGUMENT,
    grpc.status.UNAUTHENTICATED,
    grpc.status.PERMISSION_DENIED,
    grpc.status.OUT_OF_RANGE,
    grpc.status.NOT_FOUND,
    grpc.status.UNIMPLEMENTED,
  ];
  for (const code of fatal) {
    test(`stops with the error on ${grpc.status[code]}`, async () => {
      const list = payments(5);
      const { f, client } = await fake({
        stream: (call) => {
          send(call, list, startIndex(call.request), 2);
          fail(call, code, "no way");
        },
      });
      const got: string[] = [];
      await assert.rejects(async () => {
        for await (const ev of client.payments({}, { backoff: FAST, signal: AbortSignal.timeout(5000) })) got.push(ev.payment.id);
      }, (err: unknown) => isStatus(err, code) && err.details === "no way");
      assert.deepEqual(got, ["pay_0", "pay_1"]);
      assert.equal(f.requests.length, 1, "no second attempt");
    });
  }

  test("resume: false ends with the first error, or at the end of the stream", async () => {
    const { client } = await fake({
      stream: (call, n) => {
        send(call, payments(3), 0, 3);
        if (n === 0) fail(call, grpc.status.UNAVAILABLE, "bye");
        else call.end();
      },
    });
    const got: string[] = [];
    await assert.rejects(async () => {
      for await (const ev of client.payments({}, { resume: false })) got.push(ev.payment.id);
    }, (err: unknown) => isStatus(err, grpc.status.UNAVAILABLE));
    assert.equal(got.length, 3);
    const { got: second, disconnects } = await collect(client, { resume: false });
    assert.equal(second.length, 3);
    assert.equal(disconnects.length, 0);
  });

  test("sends the request's filters, the token, and the cursor it was given", async () => {
    const { f, client } = await fake({ stream: (call) => void call.end() });
    const since = new Date("2026-11-25T10:00:00.250Z");
    await collect(client, { resume: false }, Infinity, {
      gateways: [Gateway.GATEWAY_STRIPE, Gateway.GATEWAY_SQUARE],
      currencies: ["USD"],
      statuses: [PaymentStatus.PAYMENT_STATUS_FAILED],
      start: StartPosition.START_POSITION_EARLIEST,
      since,
      cursor: "k41",
    });
    assert.deepEqual(f.requests[0], {
      gateways: [Gateway.GATEWAY_STRIPE, Gateway.GATEWAY_SQUARE],
      currencies: ["USD"],
      statuses: [PaymentStatus.PAYMENT_STATUS_FAILED],
      start: StartPosition.START_POSITION_EARLIEST,
      since,
      cursor: "k41",
    });
    assert.deepEqual(f.metadata[0]?.get("authorization"), ["Bearer s3cret"]);
  });

  test("aborting ends the iteration cleanly, while streaming or while waiting to retry", async () => {
    const { client } = await fake({
      stream: (call, n) => {
        send(call, payments(2), 0, 2);
        if (n === 1) fail(call, grpc.status.UNAVAILABLE, "down"); // and then wait a long backoff
      },
    });
    const ac = new AbortController();
    const got: string[] = [];
    for await (const ev of client.payments({}, { signal: ac.signal })) {
      got.push(ev.payment.id);
      if (got.length === 2) setTimeout(() => ac.abort(), 50); // the stream stays open
    }
    assert.equal(got.length, 2);

    const ac2 = new AbortController();
    const started = Date.now();
    const it = client.payments({}, {
      signal: ac2.signal,
      backoff: { initialMs: 60_000, maxMs: 60_000 },
      onDisconnect: () => setTimeout(() => ac2.abort(), 20),
    });
    let n = 0;
    for await (const _ of it) n++;
    assert.equal(n, 2);
    assert.ok(Date.now() - started < 5000, "did not sit out the backoff");
  });

  test("breaking out of the loop cancels the call", async () => {
    let cancelled = false;
    const { client } = await fake({
      stream: (call) => {
        call.on("cancelled", () => (cancelled = true));
        send(call, payments(5), 0, 5);
      },
    });
    const { got } = await collect(client, {}, 2);
    assert.equal(got.length, 2);
    for (let i = 0; i < 50 && !cancelled; i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(cancelled, "server saw the cancellation");
  });

  test("reconnects to a server restarted on the same port", async () => {
    const list = payments(6);
    const handlers = {
      stream: (call: StreamCall, n: number) => {
        const from = startIndex(call.request);
        send(call, list, from, n === 0 ? 3 : list.length);
        if (n === 0) fail(call, grpc.status.UNAVAILABLE, "server is shutting down");
      },
    };
    const first = await startFake(handlers);
    const client = new PaymentClient({ address: first.address });
    let second: Awaited<ReturnType<typeof startFake>> | undefined;
    stops.push(async () => {
      client.close();
      await second?.stop();
    });
    const reconnects: ReconnectInfo[] = [];
    const got: string[] = [];
    for await (const ev of client.payments({}, {
      backoff: { initialMs: 50, maxMs: 200 },
      signal: AbortSignal.timeout(15_000),
      onDisconnect: () => void first.stop(),
      onReconnect: (i) => reconnects.push(i),
    })) {
      got.push(ev.payment.id);
      if (got.length === 3) {
        // The server goes away for a moment, then comes back on the same port
        // with the same data (as the real one does: it reads it from Kafka).
        setTimeout(() => {
          void startFake({ stream: (call) => handlers.stream(call, 1) }, first.port).then((s) => (second = s));
        }, 400);
      }
      if (got.length === list.length) break;
    }
    assert.deepEqual(got, list.map((p) => p.id));
    assert.ok(reconnects.length >= 1);
    assert.equal(reconnects.at(-1)?.cursor, "k2");
    assert.deepEqual(second ? second.requests.map((r) => r.cursor) : [], ["k2"]);
  });

  test("getPayment and getStats: results, NOT_FOUND, deadlines", async () => {
    const { client } = await fake({
      getPayment: (req) =>
        req.id === "pay_1" ? { payment: payment("pay_1", req.gateway) } : serviceError(grpc.status.NOT_FOUND, `no payment ${req.id}`),
      getStats: () => ({
        paymentsByGateway: { GATEWAY_STRIPE: 2n }, paymentsByStatus: { PAYMENT_STATUS_COMPLETED: 2n }, totalsByCurrency: { USD: 10000n },
        dlqCount: 1n, dlqByCode: { malformed_json: 1n }, connectedClients: 0, consumerLag: {}, paymentsTotal: 2n, skippedCount: 0n, duplicatesDropped: 0n,
      }),
    });
    const p = await client.getPayment(Gateway.GATEWAY_RAZORPAY, "pay_1", { timeoutMs: 5000 });
    assert.equal(p?.id, "pay_1");
    assert.equal(p?.gateway, Gateway.GATEWAY_RAZORPAY);
    await assert.rejects(client.getPayment(Gateway.GATEWAY_STRIPE, "nope"), (err: unknown) => isStatus(err, grpc.status.NOT_FOUND));
    const s = await client.getStats({ timeoutMs: 5000 });
    assert.equal(s.paymentsTotal, 2n);
    assert.equal(s.totalsByCurrency.USD, 10000n);
  });

  test("a deadline that passes rejects with DEADLINE_EXCEEDED; aborting cancels", async () => {
    const { client } = await fake({ getStats: () => "hang" });
    await assert.rejects(client.getStats({ timeoutMs: 200 }), (err: unknown) => isStatus(err, grpc.status.DEADLINE_EXCEEDED));
    const ac = new AbortController();
    const pending = client.getStats({ signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    await assert.rejects(pending, (err: unknown) => isStatus(err, grpc.status.CANCELLED));
  });
});
