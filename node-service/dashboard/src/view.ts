// Pure helpers for showing payments. Text only: every value reaches the DOM
// through textContent, never as markup.
import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { Gateway, type Money, PaymentStatus } from "../gen/payment_pb";
import { formatMoney } from "../../src/money";

export const GATEWAYS = [Gateway.STRIPE, Gateway.RAZORPAY, Gateway.PAYPAL, Gateway.ADYEN, Gateway.SQUARE];
export const STATUSES = [
  PaymentStatus.PENDING, PaymentStatus.AUTHORIZED, PaymentStatus.COMPLETED, PaymentStatus.FAILED,
  PaymentStatus.CANCELED, PaymentStatus.REFUNDED, PaymentStatus.PARTIALLY_REFUNDED,
];

export function gatewayName(g: Gateway): string {
  return Gateway[g] ?? String(g);
}

export function statusName(s: PaymentStatus): string {
  return PaymentStatus[s] ?? String(s);
}

// stripPrefix turns GetStats' map keys ("GATEWAY_STRIPE") into the short names.
export function stripPrefix(key: string): string {
  return key.replace(/^(GATEWAY|PAYMENT_STATUS)_/, "");
}

export function money(m: Money | undefined): string {
  if (!m || !m.currency) return "";
  return formatMoney(m.amountMinor, m.currency);
}

export function time(t: Timestamp | undefined): string {
  if (!t) return "";
  return timestampDate(t).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

// el makes an element with text content (escaped by the DOM itself).
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, text = "", className = ""): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (text) e.textContent = text;
  if (className) e.className = className;
  return e;
}

export function byId<T extends HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`page has no #${id}`);
  return e as T;
}

// fillRows replaces a small table's body with one row per entry, sorted by key.
export function fillRows(tbody: HTMLTableSectionElement, rows: Array<[string, ...string[]]>): void {
  const trs = rows.sort((a, b) => a[0].localeCompare(b[0])).map((cells) => {
    const tr = el("tr");
    tr.dataset.key = cells[0];
    for (const c of cells) tr.append(el("td", c));
    return tr;
  });
  tbody.replaceChildren(...trs);
}
