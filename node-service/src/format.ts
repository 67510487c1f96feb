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

// Characters that can drive a terminal or hide text: C0 and C1 controls
// (ESC, CSI, BEL, CR, …), DEL, the line and paragraph separators, and the
// bidirectional overrides and isolates ("Trojan Source").
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

function escapeChar(c: string): string {
  const code = c.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u{${code.toString(16)}}`;
}

// safeText makes text from the server (ids, currencies, error messages,
// cursors) safe to print on a terminal: every control character is shown
// escaped (\x1b, \u{202e}) instead of being obeyed. Backslashes are escaped
// too, so that an escape in the output always means an escaped character.
export function safeText(s: string): string {
  return s.replace(/\\/g, "\\\\").replace(UNSAFE, escapeChar);
}

// safeJSON escapes what JSON.stringify leaves raw but a terminal obeys
// (DEL, C1 controls, separators, bidi overrides) as \uXXXX: the same JSON
// value, safe to print. JSON.stringify already escapes C0 controls.
export function safeJSON(json: string): string {
  return json.replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

// paymentLine: "[LOG] Payment: pay_abc123 | $50.00 USD | STRIPE | COMPLETED"
export function paymentLine(p: Payment): string {
  const amount = p.amount ?? { amountMinor: 0n, currency: "" };
  return safeText(`[LOG] Payment: ${p.id} | ${formatMoney(amount.amountMinor, amount.currency)} ${amount.currency} | ${gatewayName(p.gateway)} | ${statusName(p.status)}`);
}
