// Output of the CLI beyond the [LOG] line: --json lines, the stats table,
// and colors. (src/format.ts keeps money and the [LOG] line.)
import { styleText } from "node:util";
import { type GetStatsResponse, Payment, StreamPaymentsResponse } from "./gen/payment";
import { formatMoney, safeJSON, safeText } from "./format";

function shortName(value: string, prefix: string): string {
  return value.startsWith(prefix) ? value.slice(prefix.length) : value;
}

// paymentJSON is one payment as a line of --json output: the proto3 JSON
// mapping (enum names, int64 as strings), what protojson.Unmarshal reads.
export function paymentJSON(p: Payment): string {
  return safeJSON(JSON.stringify(Payment.toJSON(p)));
}

// streamJSON is one streamed payment as a line of --json output: a
// StreamPaymentsResponse in the proto3 JSON mapping, so the cursor that
// resumes right after the payment comes with it:
//   {"payment":{"id":"pi_…",…},"cursor":"c1.…"}
export function streamJSON(payment: Payment, cursor: string): string {
  return safeJSON(JSON.stringify(StreamPaymentsResponse.toJSON({ payment, cursor })));
}

// statsTable renders GetStats for people: one "name  value" row per line,
// grouped, biggest first, money in each currency's own format.
export function statsTable(s: GetStatsResponse): string {
  const sections: Array<[string, Array<[string, string]>]> = [];
  const counts = (m: Record<string, bigint>, prefix: string): Array<[string, string]> =>
    sortedEntries(m).map(([k, v]) => [shortName(k, prefix), v.toString()]);

  sections.push(["Payments", [
    ["total (distinct payments)", s.paymentsTotal.toString()],
    ["duplicate events dropped", s.duplicatesDropped.toString()],
    ["events skipped (not a payment)", s.skippedCount.toString()],
    ["connected stream clients", String(s.connectedClients)],
  ]]);
  sections.push(["By gateway", counts(s.paymentsByGateway, "GATEWAY_")]);
  sections.push(["By status (latest state)", counts(s.paymentsByStatus, "PAYMENT_STATUS_")]);
  sections.push(["Totals by currency", Object.entries(s.totalsByCurrency)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([code, minor]) => [code, formatMoney(minor, code)])]);
  sections.push(["Dead-letter queue", [["total", s.dlqCount.toString()], ...counts(s.dlqByCode, "")]]);
  sections.push(["Consumer lag (records not yet ingested)", Object.entries(s.consumerLag)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([topic, lag]) => [topic, lag.toString()])]);

  // Names come from the server (topics, codes): shown escaped, so that the
  // widths are those of what is printed.
  for (const [, r] of sections) for (const row of r) row[0] = safeText(row[0]);
  const rows = sections.flatMap(([, r]) => r);
  const nameWidth = Math.max(0, ...rows.map(([k]) => k.length));
  const valueWidth = Math.max(0, ...rows.map(([, v]) => v.length));
  const out: string[] = [];
  for (const [title, r] of sections) {
    out.push(title);
    if (r.length === 0) out.push("  (none)");
    for (const [k, v] of r) out.push(`  ${k.padEnd(nameWidth)}  ${v.padStart(valueWidth)}`);
  }
  return out.join("\n") + "\n";
}

function sortedEntries(m: Record<string, bigint>): Array<[string, bigint]> {
  return Object.entries(m).sort(([ka, a], [kb, b]) => (a === b ? ka.localeCompare(kb) : a > b ? -1 : 1));
}

// Colors: only for a terminal, and never when NO_COLOR is set to anything
// but "" (https://no-color.org).
export interface MaybeTTY {
  isTTY?: boolean;
}

export function useColor(stream: MaybeTTY, env: NodeJS.ProcessEnv): boolean {
  return stream.isTTY === true && !env.NO_COLOR;
}

export function paint(text: string, color: "green" | "yellow" | "red", on: boolean): string {
  return on ? styleText(color, text, { validateStream: false }) : text;
}

// summaryLine: "[CLIENT] Received 3 payment(s); resume with --from c1.…"
export function summaryLine(received: number, cursor: string): string {
  return `[CLIENT] Received ${received} payment(s)${cursor ? `; resume with --from ${safeText(cursor)}` : ""}`;
}
