import { test } from "node:test";
import assert from "node:assert/strict";
import { formatAmount, formatPayment } from "../src/client";
import { Gateway, PaymentStatus } from "../src/gen/payment";

test("formatAmount writes minor units exactly", () => {
  const cases: [bigint, string, string][] = [
    [1234n, "USD", "12.34 USD"],
    [5n, "USD", "0.05 USD"],
    [1500n, "JPY", "1500 JPY"],
    [12340n, "KWD", "12.340 KWD"],
    [-250n, "EUR", "-2.50 EUR"],
    // Beyond Number.MAX_SAFE_INTEGER: a Number would print ...776.00.
    [922337203685477580n, "USD", "9223372036854775.80 USD"],
  ];
  for (const [amount, currency, want] of cases) {
    assert.equal(formatAmount(amount, currency), want, `${amount} ${currency}`);
  }
});

test("formatPayment is the [LOG] line's text", () => {
  const line = formatPayment({
    id: "pi_1",
    gateway: Gateway.GATEWAY_STRIPE,
    amount: { amountMinor: 1250n, currency: "USD" },
    status: PaymentStatus.PAYMENT_STATUS_COMPLETED,
    customerEmail: "",
    eventId: "evt_1",
  });
  assert.equal(line, "pi_1 STRIPE 12.50 USD COMPLETED");
});
