// The dashboard page: one StreamPayments call feeding the live table (resumed
// with its cursor whenever it breaks), GetStats polled every second for the
// figures and charts, GetPayment on a row's click.
import { type GetStatsResponse, type Payment, StartPosition } from "../gen/payment_pb";
import { describe, isAbort, isUnauthenticated, newClient, saveToken, savedToken } from "./api";
import { Charts } from "./charts";
import { BUFFERED, type Filter, PaymentTable, SHOWN } from "./table";
import { byId, el, fillRows, gatewayName, GATEWAYS, money, statusName, STATUSES, stripPrefix, time } from "./view";

const client = newClient(location.origin);
const gatewayNames = GATEWAYS.map(gatewayName);

const table = new PaymentTable(byId<HTMLTableElement>("payments").tBodies[0]!, showDetail);
const charts = new Charts(byId("rate-chart"), byId("status-chart"), byId("dlq-chart"), gatewayNames);

// Connection state, shown top right. "reconnected" stays up until the next break.
type State = "connecting" | "live" | "down" | "reconnected";
let state: State = "connecting";
let broken = false; // the stream broke and has not come back yet
let reconnects = 0;

function setState(s: State, text: string): void {
  state = s;
  const box = byId("connection");
  box.dataset.state = s;
  box.textContent = text;
}

function streamIsBack(): void {
  if (!broken) {
    if (state === "connecting") setState("live", "Live");
    return;
  }
  broken = false;
  reconnects++;
  byId("reconnects").textContent = String(reconnects);
  setState("reconnected", `Reconnected at ${new Date().toLocaleTimeString()}: resumed after the last payment shown`);
}

// Token: asked for when a call is refused as unauthenticated; the calls wait.
let tokenWanted: Promise<void> | null = null;
function askForToken(): Promise<void> {
  tokenWanted ??= new Promise<void>((resolve) => {
    const form = byId<HTMLFormElement>("token-form");
    const input = byId<HTMLInputElement>("token");
    form.hidden = false;
    setState("down", savedToken() ? "Token refused" : "Token needed");
    input.focus();
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      saveToken(input.value);
      input.value = "";
      form.hidden = true;
      tokenWanted = null;
      setState("connecting", "Connecting…");
      resolve();
    }, { once: true });
  });
  return tokenWanted;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
// Full jitter: many pages cut off by one restart do not all come back at once.
const backoff = (attempt: number) => Math.random() * Math.min(5000, 250 * 2 ** attempt);

let streaming = false;
async function streamForever(): Promise<void> {
  let cursor = "";
  let attempt = 0;
  for (;;) {
    if (tokenWanted) await tokenWanted;
    streaming = true;
    try {
      // A cursor resumes strictly after the last payment shown: no gap, no repeat.
      const req = cursor ? { cursor } : { start: StartPosition.LATEST };
      for await (const res of client.streamPayments(req)) {
        streamIsBack();
        attempt = 0;
        cursor = res.cursor;
        if (res.payment) table.add(res.payment);
        showCount();
      }

      throw new Error("the server ended the stream");
    } catch (err) {
      streaming = false;
      if (isUnauthenticated(err)) {
        await askForToken();
        continue;
      }
      if (!isAbort(err)) {
        broken = true;
        setState("down", `Disconnected (${describe(err)}); retrying…`);
      }
    }
    await sleep(backoff(attempt++));
  }
}

// Stats: figures, per-gateway rates (from the change in counts between two
// polls), status mix, dead letters by code, consumer lag.
let previous: { at: number; byGateway: Record<string, bigint> } | null = null;

function render(stats: GetStatsResponse): void {
  const now = performance.now();
  byId("total").textContent = String(stats.paymentsTotal);
  byId("dlq-total").textContent = String(stats.dlqCount);
  byId("clients").textContent = String(stats.connectedClients);
  const rates = gatewayNames.map((g) => {
    const key = `GATEWAY_${g}`;
    if (!previous) return 0;
    const delta = Number((stats.paymentsByGateway[key] ?? 0n) - (previous.byGateway[key] ?? 0n));
    return Math.max(0, delta) / ((now - previous.at) / 1000);
  });
  if (previous) charts.pushRates(new Date().toLocaleTimeString(), rates);
  previous = { at: now, byGateway: { ...stats.paymentsByGateway } };
  fillRows(byId<HTMLTableElement>("gateways").tBodies[0]!, gatewayNames.map((g, i) =>
    [g, String(stats.paymentsByGateway[`GATEWAY_${g}`] ?? 0n), rates[i]!.toFixed(1)]));
  fillRows(byId<HTMLTableElement>("dlq-codes").tBodies[0]!, Object.entries(stats.dlqByCode).map(([k, v]) => [k, String(v)]));
  fillRows(byId<HTMLTableElement>("lag").tBodies[0]!, Object.entries(stats.consumerLag).map(([k, v]) => [k, String(v)]));
  charts.setStatusMix(new Map(Object.entries(stats.paymentsByStatus).map(([k, v]) => [stripPrefix(k), Number(v)])));
  charts.setDLQ(new Map(Object.entries(stats.dlqByCode).map(([k, v]) => [k, Number(v)])));
  refreshCurrencies();
}

async function pollStats(): Promise<void> {
  for (;;) {
    if (tokenWanted) await tokenWanted;
    try {
      render(await client.getStats({}, { timeoutMs: 3000 }));
      if (streaming) streamIsBack();
    } catch (err) {
      // Only the stream decides whether the page is connected: a slow
      // GetStats under load is not a disconnection.
      if (isUnauthenticated(err)) void askForToken();
    }
    await sleep(1000);
  }
}

// The detail panel: the payment's latest state, asked for with GetPayment.
async function showDetail(p: Payment): Promise<void> {
  const panel = byId("detail");
  const fields = byId("detail-fields");
  panel.hidden = false;
  byId("detail-id").textContent = p.id;
  fields.replaceChildren(el("dt", "state"), el("dd", "loading…"));
  try {
    const { payment } = await client.getPayment({ gateway: p.gateway, id: p.id }, { timeoutMs: 5000 });
    if (!payment) throw new Error("empty answer");
    const rows: Array<[string, string]> = [
      ["status", statusName(payment.status)],
      ["gateway", gatewayName(payment.gateway)],
      ["amount", `${money(payment.amount)} ${payment.amount?.currency ?? ""}`],
      ["refunded", payment.refunded ? `${money(payment.refunded)} ${payment.refunded.currency}` : ""],
      ["method", payment.method],
      ["customer", payment.customerEmail],
      ["failure", payment.failureReason],
      ["created", time(payment.createdAt)],
      ["updated", time(payment.updatedAt)],
      ["event", payment.eventId],
      ["source", payment.source ? `${payment.source.topic} [${payment.source.partition}] @ ${payment.source.offset}` : ""],
      ...Object.entries(payment.metadata).sort().map(([k, v]): [string, string] => [`metadata.${k}`, v]),
    ];
    fields.replaceChildren(...rows.filter(([, v]) => v !== "").flatMap(([k, v]) => [el("dt", k), el("dd", v)]));
    fields.dataset.status = statusName(payment.status);
  } catch (err) {
    fields.replaceChildren(el("dt", "error"), el("dd", describe(err)));
  }
}

// Filters.
const filterGateway = byId<HTMLSelectElement>("filter-gateway");
const filterCurrency = byId<HTMLSelectElement>("filter-currency");
const filterStatus = byId<HTMLSelectElement>("filter-status");
for (const g of gatewayNames) filterGateway.append(new Option(g, g));
for (const s of STATUSES) filterStatus.append(new Option(statusName(s), statusName(s)));

function refreshCurrencies(): void {
  const known = new Set([...filterCurrency.options].map((o) => o.value));
  for (const c of [...table.currencies].sort()) if (!known.has(c)) filterCurrency.append(new Option(c, c));
}

function applyFilter(): void {
  const f: Filter = { gateway: filterGateway.value, currency: filterCurrency.value, status: filterStatus.value };
  table.setFilter(f);
  showCount();
}

function showCount(): void {
  byId("shown").textContent = `${table.shown()} shown of the last ${table.buffered()} received (at most ${SHOWN} rows, ${BUFFERED} kept)`;
}
for (const s of [filterGateway, filterCurrency, filterStatus]) s.addEventListener("change", applyFilter);

void streamForever();
void pollStats();
