// Money for people, from exact minor units. No imports: the CLI (format.ts)
// and the browser dashboard (node-service/dashboard) share it.

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
