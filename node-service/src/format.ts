// Formatting for people: money from exact minor units, and the course's
// "[LOG] Payment: …" line. Amounts stay bigint until the very last step.
import {
  type Payment,
  Gateway,
  PaymentStatus,
  gatewayToJSON,
  paymentStatusToJSON,
} from "./gen/payment";

// How many decimal digits a currency's minor unit has (USD 2, JPY 0, KWD 3),
// from the runtime's own ISO 4217 data rather than a table of our own.
export function minorUnits(currency: string): number {
  return new Intl.NumberFormat("en-US", { style: "currency", currency }).resolvedOptions()
    .maximumFractionDigits ?? 2;
}

// toDecimal writes minor units as an exact decimal string: 5000n, 2 → "50.00".
export function toDecimal(amountMinor: bigint, digits: number): string {
  const negative = amountMinor < 0n;
  let s = (negative ? -amountMinor : amountMinor).toString();
  if (digits > 0) {
    s = s.padStart(digits + 1, "0");
    s = `${s.slice(0, -digits)}.${s.slice(-digits)}`;
  }
  return negative ? `-${s}` : s;
}

// formatMoney: 5000n USD → "$50.00", 100000n INR → "₹1000.00", 5000n JPY → "¥5000",
// 1250n KWD → "1.250" (no symbol of its own: the code, which callers print next to
// it, says what it is). No digit grouping, as in the course's output; never through a float.
export function formatMoney(amountMinor: bigint, currency: string): string {
  let fmt: Intl.NumberFormat;
  try {
    fmt = new Intl.NumberFormat("en-US", { style: "currency", currency, useGrouping: false });
  } catch {
    return `${amountMinor} (minor units)`;
  }
  const digits = fmt.resolvedOptions().maximumFractionDigits ?? 2;
  // A numeric string keeps every digit: Intl formats it exactly.
  const parts = fmt.formatToParts(toDecimal(amountMinor, digits) as Intl.StringNumericLiteral);
  const symbol = parts.find((p) => p.type === "currency")?.value;
  const keep = symbol === currency.toUpperCase()
    ? parts.filter((p) => p.type !== "currency" && !(p.type === "literal" && p.value.trim() === ""))
    : parts;
  return keep.map((p) => p.value).join("");
}

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
