import { test } from "node:test";
import assert from "node:assert/strict";
import { formatMoney, minorUnits, paymentLine, safeJSON, safeText, toDecimal } from "../src/format";
import { paint, paymentJSON, statsTable, streamJSON, summaryLine, useColor } from "../src/output";
import { Gateway, Payment, PaymentStatus } from "../src/gen/payment";

test("minor units come from ISO 4217", () => {
  assert.equal(minorUnits("USD"), 2);
  assert.equal(minorUnits("INR"), 2);
  assert.equal(minorUnits("JPY"), 0);
  assert.equal(minorUnits("KWD"), 3);
});

test("toDecimal is exact for every size", () => {
  const cases: Array<[bigint, number, string]> = [
    [5000n, 2, "50.00"],
    [5n, 2, "0.05"],
    [0n, 3, "0.000"],
    [5000n, 0, "5000"],
    [-150n, 2, "-1.50"],
    [9223372036854775807n, 2, "92233720368547758.07"],
  ];
  for (const [minor, digits, want] of cases) assert.equal(toDecimal(minor, digits), want);
});

test("formatMoney formats by currency without grouping", () => {
  const cases: Array<[bigint, string, string]> = [
    [5000n, "USD", "$50.00"],
    [100000n, "INR", "₹1000.00"],
    [5000n, "JPY", "¥5000"],
    [1250n, "KWD", "1.250"],
    [-1250n, "KWD", "-1.250"],
    [500n, "CHF", "5.00"],
    [9223372036854775807n, "USD", "$92233720368547758.07"],
    [42n, "???", "42 (minor units)"],
  ];
  for (const [minor, currency, want] of cases) assert.equal(formatMoney(minor, currency), want);
});

function paymentBase(): Payment {
  return {
    id: "pay_def456",
    gateway: Gateway.GATEWAY_RAZORPAY,
    amount: { amountMinor: 100000n, currency: "INR" },
    status: PaymentStatus.PAYMENT_STATUS_COMPLETED,
    customerEmail: "",
    method: "upi",
    failureReason: "",
    eventId: "",
    metadata: {},
    createdAt: undefined,
    updatedAt: undefined,
    refunded: undefined,
    source: undefined,
  };
}

test("paymentLine is the course's [LOG] line", () => {
  const line = paymentLine(paymentBase());
  assert.equal(line, "[LOG] Payment: pay_def456 | ₹1000.00 INR | RAZORPAY | COMPLETED");
  // A currency without a symbol of its own shows its code once.
  const kwd = paymentLine({ ...paymentBase(), amount: { amountMinor: 1250n, currency: "KWD" } });
  assert.equal(kwd, "[LOG] Payment: pay_def456 | 1.250 KWD | RAZORPAY | COMPLETED");
});

test("paymentJSON is the proto3 JSON mapping on one line", () => {
  const json = paymentJSON({
    id: "pi_1", gateway: Gateway.GATEWAY_STRIPE, amount: { amountMinor: 9223372036854775807n, currency: "USD" },
    status: PaymentStatus.PAYMENT_STATUS_PARTIALLY_REFUNDED, customerEmail: "a@example.com", method: "card", failureReason: "",
    eventId: "evt_1", metadata: { k: "v" }, createdAt: new Date("2026-11-25T10:00:00Z"), updatedAt: new Date("2026-11-25T10:00:01.5Z"),
    refunded: { amountMinor: 100n, currency: "USD" }, source: { topic: "payments.raw.stripe", partition: 2, offset: 41n },
  });
  assert.ok(!json.includes("\n"));
  assert.deepEqual(JSON.parse(json), {
    id: "pi_1", gateway: "GATEWAY_STRIPE", amount: { amountMinor: "9223372036854775807", currency: "USD" },
    status: "PAYMENT_STATUS_PARTIALLY_REFUNDED", customerEmail: "a@example.com", method: "card", eventId: "evt_1",
    metadata: { k: "v" }, createdAt: "2026-11-25T10:00:00.000Z", updatedAt: "2026-11-25T10:00:01.500Z",
    refunded: { amountMinor: "100", currency: "USD" }, source: { topic: "payments.raw.stripe", partition: 2, offset: "41" },
  });
});

test("statsTable: every section, biggest first, money per currency", () => {
  const table = statsTable({
    paymentsByGateway: { GATEWAY_STRIPE: 2n, GATEWAY_RAZORPAY: 5n },
    paymentsByStatus: { PAYMENT_STATUS_COMPLETED: 6n, PAYMENT_STATUS_FAILED: 1n },
    totalsByCurrency: { USD: 12345n, INR: 100000n, JPY: 500n },
    dlqCount: 3n,
    dlqByCode: { malformed_json: 2n, unknown_gateway: 1n },
    connectedClients: 4,
    consumerLag: { "payments.raw.stripe": 0n },
    paymentsTotal: 7n,
    skippedCount: 1n,
    duplicatesDropped: 2n,
  });
  assert.equal(table, [
    "Payments",
    "  total (distinct payments)              7",
    "  duplicate events dropped               2",
    "  events skipped (not a payment)         1",
    "  connected stream clients               4",
    "By gateway",
    "  RAZORPAY                               5",
    "  STRIPE                                 2",
    "By status (latest state)",
    "  COMPLETED                              6",
    "  FAILED                                 1",
    "Totals by currency",
    "  INR                             ₹1000.00",
    "  JPY                                 ¥500",
    "  USD                              $123.45",
    "Dead-letter queue",
    "  total                                  3",
    "  malformed_json                         2",
    "  unknown_gateway                        1",
    "Consumer lag (records not yet ingested)",
    "  payments.raw.stripe                    0",
    "",
  ].join("\n"));
  assert.match(statsTable({
    paymentsByGateway: {}, paymentsByStatus: {}, totalsByCurrency: {}, dlqCount: 0n, dlqByCode: {}, connectedClients: 0,
    consumerLag: {}, paymentsTotal: 0n, skippedCount: 0n, duplicatesDropped: 0n,
  }), /By gateway\n  \(none\)\n/);
});

test("color only on a terminal and without NO_COLOR", () => {
  assert.equal(useColor({ isTTY: true }, {}), true);
  assert.equal(useColor({ isTTY: true }, { NO_COLOR: "1" }), false);
  assert.equal(useColor({ isTTY: true }, { NO_COLOR: "" }), true, "an empty NO_COLOR does not count (no-color.org)");
  assert.equal(useColor({ isTTY: false }, {}), false);
  assert.equal(useColor({}, {}), false);
  assert.equal(paint("ok", "green", false), "ok");
  assert.equal(paint("ok", "green", true), "\u001b[32mok\u001b[39m");
});

test("summaryLine", () => {
  assert.equal(summaryLine(0, ""), "[CLIENT] Received 0 payment(s)");
  assert.equal(summaryLine(3, "c1.abc"), "[CLIENT] Received 3 payment(s); resume with --from c1.abc");
});

// What a terminal would obey: ESC/CSI sequences, BEL, CR, DEL, C1, bidi overrides.
const TERMINAL_CONTROLS = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

test("safeText shows control characters escaped, and only them", () => {
  const cases: Array<[string, string]> = [
    ["pi_123", "pi_123"],
    ["pi_\u001b]0;pwned\u0007", "pi_\\x1b]0;pwned\\x07"],
    ["pi_\u001b[2J\u001b[H", "pi_\\x1b[2J\\x1b[H"],
    ["a\rb\nc\td", "a\\x0db\\x0ac\\x09d"],
    ["csi\u009b31m", "csi\\x9b31m"],
    ["del\u007f", "del\\x7f"],
    ["bidi\u202egnp.exe", "bidi\\u{202e}gnp.exe"],
    ["back\\slash", "back\\\\slash"],
    ["café ₹ 日本", "café ₹ 日本"],
  ];
  for (const [input, want] of cases) {
    assert.equal(safeText(input), want, JSON.stringify(input));
    assert.doesNotMatch(safeText(input), TERMINAL_CONTROLS);
  }
});

test("a crafted id or currency cannot drive the terminal: line, JSON, stats, summary", () => {
  const evil = "pi_\u001b]8;;https://evil.example\u0007click\u001b]8;;\u0007\u009b2J\u202e";
  const p = { ...paymentBase(), id: evil, amount: { amountMinor: 100n, currency: "US\u001bD" } };
  const line = paymentLine(p);
  assert.doesNotMatch(line, TERMINAL_CONTROLS, line);
  assert.match(line, /^\[LOG\] Payment: pi_\\x1b\]8;;https:\/\/evil\.example\\x07click/);
  for (const json of [paymentJSON(p), streamJSON(p, "c1.\u001b[31m")]) {
    assert.doesNotMatch(json, TERMINAL_CONTROLS, json);
    const back = JSON.parse(json) as { id?: string; payment?: { id: string } };
    assert.equal(back.id ?? back.payment?.id, evil, "the JSON value is unchanged");
  }
  assert.doesNotMatch(summaryLine(1, "c1.\u001b[31m"), TERMINAL_CONTROLS);
  const table = statsTable({
    paymentsByGateway: { ["GATEWAY_\u001b[31mX"]: 1n }, paymentsByStatus: {}, totalsByCurrency: {}, dlqCount: 0n,
    dlqByCode: { ["code\u0007"]: 1n }, connectedClients: 0, consumerLag: { ["topic\u009b"]: 0n }, paymentsTotal: 1n, skippedCount: 0n, duplicatesDropped: 0n,
  });
  assert.doesNotMatch(table.trimEnd(), TERMINAL_CONTROLS, table);
  assert.equal(safeJSON(JSON.stringify("\u0085\u2028")), '"\\u0085\\u2028"');
});

test("streamJSON is a StreamPaymentsResponse: the payment and its cursor", () => {
  const json = streamJSON(paymentBase(), "c1.abc");
  assert.ok(!json.includes("\n"));
  const back = JSON.parse(json) as { payment: { id: string }; cursor: string };
  assert.equal(back.payment.id, paymentBase().id);
  assert.equal(back.cursor, "c1.abc");
});
