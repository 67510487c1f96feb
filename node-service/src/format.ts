// Formatting for people: money from exact minor units, and the course's
// "[LOG] Payment: …" line. Amounts stay bigint until the very last step.
import {
  type Payment,
  Gateway,
  PaymentStatus,
  gatewayToJSON,
  paymentStatusToJSON,
} from "./gen/payment";

export { minorUnits, toDecimal, formatMoney } from "./money";
import { formatMoney } from "./money";

function shortName(value: string, prefix: string): string {
  return value.startsWith(prefix) ? value.slice(prefix.length) : value;
}

export function gatewayName(g: Gateway): string {
  return shortName(gatewayToJSON(g), "GATEWAY_");
}

export function statusName(s: PaymentStatus): string {
  return shortName(paymentStatusToJSON(s), "PAYMENT_STATUS_");
}

// paymentLine: "[LOG] Payment: pay_abc123 | $50.00 USD | STRIPE | COMPLETED"
export function paymentLine(p: Payment): string {
  const amount = p.amount ?? { amountMinor: 0n, currency: "" };
  return `[LOG] Payment: ${p.id} | ${formatMoney(amount.amountMinor, amount.currency)} ${amount.currency} | ${gatewayName(p.gateway)} | ${statusName(p.status)}`;
}
