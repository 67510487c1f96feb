import { test } from "node:test";
import assert from "node:assert/strict";
import { formatMoney, minorUnits, paymentLine, toDecimal } from "../src/format";
import { Gateway, PaymentStatus } from "../src/gen/payment";

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
    [1250n, "KWD", "KWD\u00a01.250"],
    [9223372036854775807n, "USD", "$92233720368547758.07"],
    [42n, "???", "42 ??? (minor units)"],
  ];
  for (const [minor, currency, want] of cases) assert.equal(formatMoney(minor, currency), want);
});

test("paymentLine is the course's [LOG] line", () => {
  const line = paymentLine({
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
  });
  assert.equal(line, "[LOG] Payment: pay_def456 | ₹1000.00 INR | RAZORPAY | COMPLETED");
});
