// Command-line parsing for src/index.ts, kept free of I/O so that tests can
// call it directly: argv + environment in, a typed command out, or a
// UsageError whose message is one line naming the culprit flag.
import { parseArgs } from "node:util";
import {
  Gateway,
  PaymentStatus,
  StartPosition,
  type StreamPaymentsRequest,
  gatewayToJSON,
  paymentStatusToJSON,
} from "./gen/payment";
import { fullRequest } from "./client";

export const DEFAULT_SERVER = "localhost:50051";
export const DEFAULT_TIMEOUT_SECONDS = 10;

export const HELP = `Usage:
  npx tsx src/index.ts [options]                     stream payments as they arrive
  npx tsx src/index.ts get <gateway> <id> [options]  print one payment's latest state
  npx tsx src/index.ts stats [options]               print the pipeline's counters

Streaming prints one line per payment:
  [LOG] Payment: pi_3Q… | $50.00 USD | STRIPE | COMPLETED
If the server goes away (a restart, a deploy), the client reconnects with
exponential backoff and resumes right after the last payment it printed:
  [CLIENT] Reconnected, resuming after c1.…
Ctrl-C ends it with a summary line and the cursor to resume from.

Streaming options (filters combine with AND; values of one filter with OR;
each takes a comma-separated list and may be repeated; names are case-insensitive):
  --gateway LIST       stripe, razorpay, paypal, adyen, square
  --currency LIST      ISO 4217 codes, e.g. USD,INR,JPY
  --status LIST        pending, authorized, completed, failed, canceled,
                       refunded, partially_refunded
  --from WHERE         where to start:
                         latest    only payments that arrive from now on (default)
                         earliest  everything the server still holds
                         CURSOR    strictly after the payment that cursor came with
                                   (printed by Ctrl-C, or the "cursor" of a payment)
                         TIME      payments whose event time is at or after an
                                   RFC 3339 time, e.g. 2026-11-25T10:00:00Z
  --count N            exit after N payments (default 0: until Ctrl-C)

Commands:
  get <gateway> <id>   the latest state of one payment; exit status 1 if the
                       server does not know it
  stats                payments per gateway and status, totals per currency,
                       dead-lettered records, consumer lag, connected clients

Common options:
  --server HOST:PORT   gRPC server (default: $GRPC_SERVER, else ${DEFAULT_SERVER})
  --json               machine-readable output: one JSON object per line on
                       stdout; status lines ([CLIENT] …) go to stderr. A
                       streamed payment comes with its cursor:
                       {"payment":{…},"cursor":"c1.…"} (StreamPaymentsResponse);
                       get prints the Payment, stats the GetStatsResponse
  --token TOKEN        send "authorization: Bearer TOKEN" (default: $GRPC_TOKEN)
  --tls                connect with TLS (system root certificates)
  --ca FILE            trust this PEM CA certificate (implies --tls)
  --cert FILE          client certificate (PEM) for a server that requires
                       one (mutual TLS); with --key; implies --tls
  --key FILE           private key (PEM) of --cert
  --timeout SECONDS    give up on the first connection, or on a get/stats
                       call, after this long (default ${DEFAULT_TIMEOUT_SECONDS}); once
                       streaming, reconnection goes on until Ctrl-C
  -h, --help           show this help

Environment:
  GRPC_SERVER          default for --server
  GRPC_TOKEN           default for --token
  GRPC_CLIENT_CERT     default for --cert
  GRPC_CLIENT_KEY      default for --key
  NO_COLOR             set (non-empty) to never color output; color is only
                       used when the output is a terminal anyway

Text from the server (ids, currencies, messages) is printed with control
characters escaped (\x1b, \u{202e}): a crafted id cannot drive the terminal.
A --token sent without TLS to a host other than this machine is warned about.

Exit status: 0 done (also after Ctrl-C), 1 error (cannot connect, not found,
server refused the request), 2 bad command line.
`;

export class UsageError extends Error {
  override readonly name = "UsageError";
}

export type Command =
  | { kind: "help" }
  | { kind: "stream"; request: StreamPaymentsRequest; count: number }
  | { kind: "get"; gateway: Gateway; id: string }
  | { kind: "stats" };

export interface Cli {
  server: string;
  token: string | undefined;
  tls: boolean;
  caFile: string | undefined;
  certFile: string | undefined;
  keyFile: string | undefined;
  timeoutMs: number;
  json: boolean;
  command: Command;
}

const STREAM_ONLY = ["gateway", "currency", "status", "from", "count"] as const;

// parseCli turns argv (without node and the script) into a command.
export function parseCli(argv: string[], env: NodeJS.ProcessEnv = {}): Cli {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        server: { type: "string" },
        gateway: { type: "string", multiple: true },
        currency: { type: "string", multiple: true },
        status: { type: "string", multiple: true },
        from: { type: "string" },
        count: { type: "string" },
        json: { type: "boolean" },
        token: { type: "string" },
        tls: { type: "boolean" },
        ca: { type: "string" },
        cert: { type: "string" },
        key: { type: "string" },
        timeout: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new UsageError(parseArgsMessage(err));
  }
  const { values, positionals } = parsed;

  const server = values.server ?? (env.GRPC_SERVER || DEFAULT_SERVER);
  if (server.trim() === "") throw new UsageError("--server: want HOST:PORT, got an empty string");
  const timeout = parseNumber("--timeout", values.timeout ?? String(DEFAULT_TIMEOUT_SECONDS));
  if (!(timeout > 0)) throw new UsageError(`--timeout ${JSON.stringify(values.timeout)}: want seconds > 0`);
  if (values.ca === "") throw new UsageError("--ca: want the path of a PEM file");
  const certFile = values.cert ?? (env.GRPC_CLIENT_CERT || undefined);
  const keyFile = values.key ?? (env.GRPC_CLIENT_KEY || undefined);
  if (certFile === "" || keyFile === "") throw new UsageError(`--${certFile === "" ? "cert" : "key"}: want the path of a PEM file`);
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new UsageError("--cert and --key go together (GRPC_CLIENT_CERT, GRPC_CLIENT_KEY): a client certificate needs its key");
  }
  const common = {
    server,
    token: values.token ?? (env.GRPC_TOKEN || undefined),
    tls: (values.tls ?? false) || values.ca !== undefined || certFile !== undefined,
    caFile: values.ca,
    certFile,
    keyFile,
    timeoutMs: Math.round(timeout * 1000),
    json: values.json ?? false,
  };
  if (values.help) return { ...common, command: { kind: "help" } };

  const [name, ...args] = positionals;
  if (name === "get" || name === "stats") {
    for (const flag of STREAM_ONLY) {
      if (values[flag] !== undefined) throw new UsageError(`--${flag} applies to streaming, not to "${name}"`);
    }
  }
  switch (name) {
    case undefined: {
      if (args.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(args[0])} (commands: get, stats)`);
      const request = buildStreamRequest({
        gateways: values.gateway ?? [],
        currencies: values.currency ?? [],
        statuses: values.status ?? [],
        from: values.from ?? "latest",
      });
      const count = values.count === undefined ? 0 : parseCount(values.count);
      return { ...common, command: { kind: "stream", request, count } };
    }
    case "get": {
      const [gateway, id, extra] = args;
      if (gateway === undefined || id === undefined || id.trim() === "") {
        throw new UsageError("get: want a gateway and a payment id, e.g. get stripe pi_3Q…");
      }
      if (extra !== undefined) throw new UsageError(`get: unexpected argument ${JSON.stringify(extra)}`);
      return { ...common, command: { kind: "get", gateway: parseGateway(gateway, "get"), id } };
    }
    case "stats":
      if (args.length > 0) throw new UsageError(`stats: unexpected argument ${JSON.stringify(args[0])}`);
      return { ...common, command: { kind: "stats" } };
    default:
      throw new UsageError(`unknown command ${JSON.stringify(name)} (commands: get, stats)`);
  }
}

export interface StreamFlags {
  gateways: string[];
  currencies: string[];
  statuses: string[];
  from: string;
}

// buildStreamRequest turns the streaming flags into a StreamPaymentsRequest.
export function buildStreamRequest(flags: StreamFlags): StreamPaymentsRequest {
  return fullRequest({
    gateways: parseList("--gateway", flags.gateways, (v) => parseGateway(v, "--gateway")),
    currencies: parseList("--currency", flags.currencies, parseCurrency),
    statuses: parseList("--status", flags.statuses, parseStatus),
    ...parseFrom(flags.from),
  });
}

// parseList splits every value on commas, parses each item and drops repeats.
export function parseList<T>(flag: string, values: string[], parse: (item: string) => T): T[] {
  if (values.length === 0) return [];
  const items = values.flatMap((v) => v.split(",")).map((s) => s.trim()).filter((s) => s !== "");
  if (items.length === 0) throw new UsageError(`${flag}: want at least one value`);
  return [...new Set(items.map(parse))];
}

// The enum's named values, without UNSPECIFIED (0) and ts-proto's UNRECOGNIZED (-1).
function enumValues<E extends number>(e: Record<string, string | number>): E[] {
  return Object.values(e).filter((v): v is E => typeof v === "number" && v > 0);
}

const GATEWAYS = enumValues<Gateway>(Gateway);
const STATUSES = enumValues<PaymentStatus>(PaymentStatus);

// Short lower-case names: "stripe", "partially_refunded".
export const GATEWAY_NAMES = GATEWAYS.map((g) => gatewayToJSON(g).replace(/^GATEWAY_/, "").toLowerCase());
export const STATUS_NAMES = STATUSES.map((s) => paymentStatusToJSON(s).replace(/^PAYMENT_STATUS_/, "").toLowerCase());

function normalizeName(s: string, prefix: string): string {
  const n = s.trim().toLowerCase().replace(/-/g, "_");
  return n.startsWith(prefix) ? n.slice(prefix.length) : n;
}

// parseGateway: "stripe", "STRIPE" or "GATEWAY_STRIPE" → Gateway.GATEWAY_STRIPE.
export function parseGateway(name: string, flag = "--gateway"): Gateway {
  const i = GATEWAY_NAMES.indexOf(normalizeName(name, "gateway_"));
  const g = GATEWAYS[i];
  if (g === undefined) throw new UsageError(`${flag}: ${JSON.stringify(name)} is not a gateway; valid: ${GATEWAY_NAMES.join(", ")}`);
  return g;
}

// parseStatus: "completed", "Partially-Refunded", "PAYMENT_STATUS_FAILED" → PaymentStatus.
export function parseStatus(name: string): PaymentStatus {
  const i = STATUS_NAMES.indexOf(normalizeName(name, "payment_status_"));
  const s = STATUSES[i];
  if (s === undefined) throw new UsageError(`--status: ${JSON.stringify(name)} is not a payment status; valid: ${STATUS_NAMES.join(", ")}`);
  return s;
}

let knownCurrencies: Set<string> | undefined;

// parseCurrency: "usd" → "USD"; rejects what is not an ISO 4217 code.
export function parseCurrency(code: string): string {
  const c = code.trim().toUpperCase();
  knownCurrencies ??= new Set(Intl.supportedValuesOf("currency"));
  if (!/^[A-Z]{3}$/.test(c) || !knownCurrencies.has(c)) {
    throw new UsageError(`--currency: ${JSON.stringify(code)} is not an ISO 4217 currency code (e.g. USD, INR, EUR, JPY)`);
  }
  return c;
}

// Date and time with an explicit offset, as RFC 3339 requires; "T" or a space
// between them; any number of fraction digits (kept to the millisecond).
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

// parseTime parses an RFC 3339 time, or returns undefined when s is not one.
export function parseTime(s: string): Date | undefined {
  const m = RFC3339.exec(s.trim());
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const millis = Number((m[7] ?? "").padEnd(3, "0").slice(0, 3));
  const daysInMonth = [31, isLeap(year) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] ?? 0;
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth || hour > 23 || minute > 59 || second > 59) return undefined;
  let offsetMinutes = 0;
  if (m[9] !== undefined) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return undefined;
    offsetMinutes = (m[9] === "-" ? -1 : 1) * (oh * 60 + om);
  }
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day); // unlike Date.UTC, keeps years 0–99 as they are
  date.setUTCHours(hour, minute, second, millis);
  return new Date(date.getTime() - offsetMinutes * 60_000);
}

function isLeap(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

// parseFrom: latest | earliest | <RFC 3339 time> → since | anything else → cursor.
export function parseFrom(from: string): Pick<StreamPaymentsRequest, "start" | "cursor" | "since"> {
  const v = from.trim();
  const none = { start: StartPosition.START_POSITION_UNSPECIFIED, cursor: "", since: undefined };
  switch (v.toLowerCase()) {
    case "latest":
      return { ...none, start: StartPosition.START_POSITION_LATEST };
    case "earliest":
      return { ...none, start: StartPosition.START_POSITION_EARLIEST };
    case "":
      throw new UsageError("--from: want latest, earliest, a cursor or an RFC 3339 time");
  }
  const since = parseTime(v);
  if (since) return { ...none, since };
  if (/^\d{4}-\d{2}-\d{2}/.test(v)) {
    throw new UsageError(`--from: ${JSON.stringify(from)} is not an RFC 3339 time (want e.g. 2026-11-25T10:00:00Z, with a time zone)`);
  }
  if (/\s/.test(v)) throw new UsageError(`--from: ${JSON.stringify(from)}: a cursor has no spaces`);
  return { ...none, cursor: v };
}

function parseCount(s: string): number {
  if (!/^\d+$/.test(s.trim()) || !Number.isSafeInteger(Number(s))) {
    throw new UsageError(`--count ${JSON.stringify(s)}: want a whole number ≥ 0`);
  }
  return Number(s);
}

function parseNumber(flag: string, s: string): number {
  const n = s.trim() === "" ? Number.NaN : Number(s);
  if (!Number.isFinite(n)) throw new UsageError(`${flag} ${JSON.stringify(s)}: want a number`);
  return n;
}

// parseArgsMessage turns node:util parseArgs' errors (several sentences, some
// over two lines) into one short line naming the flag.
function parseArgsMessage(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const code = typeof err === "object" && err !== null && "code" in err ? String(err.code) : "";
  const flag = /'(-{1,2}[^' ]+)/.exec(message)?.[1] ?? "";
  switch (code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `unknown flag ${flag}`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      if (/does not take an argument/.test(message)) return `${flag} takes no value`;
      if (/ambiguous/.test(message)) return `${flag} needs a value (for one that starts with "-", write ${flag}=VALUE)`;
      return `${flag} needs a value`;
    default:
      return message.split("\n")[0] ?? message;
  }
}

// isLoopback: does host:port name this machine (localhost, 127.0.0.0/8, ::1)?
export function isLoopback(server: string): boolean {
  let host = server.trim().toLowerCase();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(host);
  if (bracketed) host = bracketed[1] ?? "";
  else if (host.split(":").length === 2) host = host.split(":")[0] ?? "";
  return host === "localhost" || host.endsWith(".localhost") || /^127\.\d+\.\d+\.\d+$/.test(host) || host === "::1";
}

// transportWarning is the line to print when a token would cross a network
// in clear text: a --token without TLS to another machine. On loopback the
// token never leaves this machine (the course's setup), so nothing is said.
export function transportWarning(cli: Pick<Cli, "token" | "tls" | "server">): string | undefined {
  if (cli.token === undefined || cli.tls || isLoopback(cli.server)) return undefined;
  return `[CLIENT] Warning: the token goes to ${cli.server} without TLS, readable by anyone on the way; add --tls (or --ca FILE)`;
}
