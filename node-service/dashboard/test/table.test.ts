// Pure parts of the page: the table's filter and the shown names and amounts.
import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Gateway, MoneySchema, PaymentSchema, PaymentStatus } from "../gen/payment_pb";
import { matches } from "../src/table";
import { gatewayName, money, statusName, stripPrefix } from "../src/view";

const payment = create(PaymentSchema, {
  id: "pay_1", gateway: Gateway.RAZORPAY, status: PaymentStatus.COMPLETED,
  amount: create(MoneySchema, { amountMinor: 100000n, currency: "INR" }),
});

test("filters: empty matches all; fields AND together", () => {
  const cases: Array<[string, { gateway: string; currency: string; status: string }, boolean]> = [
    ["no filter", { gateway: "", currency: "", status: "" }, true],
    ["its gateway", { gateway: "RAZORPAY", currency: "", status: "" }, true],
    ["another gateway", { gateway: "STRIPE", currency: "", status: "" }, false],
    ["its currency", { gateway: "", currency: "INR", status: "" }, true],
    ["another currency", { gateway: "", currency: "USD", status: "" }, false],
    ["its status", { gateway: "", currency: "", status: "COMPLETED" }, true],
    ["another status", { gateway: "", currency: "", status: "FAILED" }, false],
    ["all three", { gateway: "RAZORPAY", currency: "INR", status: "COMPLETED" }, true],
    ["two of three", { gateway: "RAZORPAY", currency: "INR", status: "PENDING" }, false],
  ];
  for (const [name, f, want] of cases) assert.equal(matches(payment, f), want, name);
});

test("names and amounts as the page shows them", () => {
  assert.equal(gatewayName(Gateway.PAYPAL), "PAYPAL");
  assert.equal(statusName(PaymentStatus.PARTIALLY_REFUNDED), "PARTIALLY_REFUNDED");
  assert.equal(stripPrefix("GATEWAY_SQUARE"), "SQUARE");
  assert.equal(stripPrefix("PAYMENT_STATUS_FAILED"), "FAILED");
  assert.equal(money(payment.amount), "₹1000.00");
  assert.equal(money(create(MoneySchema, { amountMinor: 1250n, currency: "KWD" })), "1.250");
  assert.equal(money(undefined), "");
});
