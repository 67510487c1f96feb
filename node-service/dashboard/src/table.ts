// The live table. The page keeps the last BUFFERED payments it received and
// shows the newest SHOWN of them that pass the filters, so its memory and
// its DOM stay bounded however long it runs.
//
// Filters apply here, in the page, rather than as StreamPaymentsRequest
// filters: the charts and figures describe all traffic, a filter change is
// instant (no new stream, no gap to resume), and the buffer already holds
// what a narrower filter would show.
import type { Payment } from "../gen/payment_pb";
import { el, gatewayName, money, statusName, time } from "./view";

export const BUFFERED = 2000;
export const SHOWN = 200;

export interface Filter {
  gateway: string; // short name ("STRIPE") or "" for all
  currency: string;
  status: string;
}

export function matches(p: Payment, f: Filter): boolean {
  return (!f.gateway || gatewayName(p.gateway) === f.gateway)
    && (!f.currency || p.amount?.currency === f.currency)
    && (!f.status || statusName(p.status) === f.status);
}

export class PaymentTable {
  private readonly buffer: Payment[] = [];
  private filter: Filter = { gateway: "", currency: "", status: "" };
  readonly currencies = new Set<string>();

  constructor(private readonly tbody: HTMLTableSectionElement, private readonly onPick: (p: Payment) => void) {}

  add(p: Payment): void {
    this.buffer.push(p);
    if (this.buffer.length > BUFFERED) this.buffer.splice(0, this.buffer.length - BUFFERED);
    if (p.amount?.currency) this.currencies.add(p.amount.currency);
    if (!matches(p, this.filter)) return;
    this.tbody.prepend(this.row(p));
    while (this.tbody.rows.length > SHOWN) this.tbody.lastElementChild?.remove();
  }

  setFilter(f: Filter): void {
    this.filter = f;
    const rows: HTMLTableRowElement[] = [];
    for (let i = this.buffer.length - 1; i >= 0 && rows.length < SHOWN; i--) {
      const p = this.buffer[i]!;
      if (matches(p, f)) rows.push(this.row(p));
    }
    this.tbody.replaceChildren(...rows);
  }

  shown(): number {
    return this.tbody.rows.length;
  }

  buffered(): number {
    return this.buffer.length;
  }

  private row(p: Payment): HTMLTableRowElement {
    const tr = el("tr");
    tr.dataset.id = p.id;
    tr.dataset.gateway = gatewayName(p.gateway);
    tr.dataset.event = p.eventId;
    const status = statusName(p.status);
    tr.append(
      el("td", p.id),
      el("td", gatewayName(p.gateway)),
      el("td", money(p.amount), "num"),
      el("td", p.amount?.currency ?? ""),
      el("td", status, `status-${status}`),
      el("td", time(p.updatedAt)),
    );
    tr.addEventListener("click", () => {
      this.tbody.querySelector("tr.selected")?.classList.remove("selected");
      tr.classList.add("selected");
      this.onPick(p);
    });
    return tr;
  }
}
