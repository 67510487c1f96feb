// The course's third terminal: connects to the gRPC server and prints every
// payment as it arrives.
//
//   npx tsx src/index.ts [--server localhost:50051] [--count N] [--from earliest|latest|<cursor>] [--json]
import { parseArgs } from "node:util";
import { PaymentClient } from "./client";
import { paymentLine } from "./format";
import { Payment, StartPosition } from "./gen/payment";

const HELP = `Usage: npx tsx src/index.ts [options]

Streams payments from the Payment Gateway Aggregator and prints one line each:
  [LOG] Payment: pi_3Q… | $50.00 USD | STRIPE | COMPLETED

Options:
  --server HOST:PORT   gRPC server (default: $GRPC_SERVER or localhost:50051)
  --count N            exit after N payments (default: run until Ctrl-C)
  --from WHERE         latest (default), earliest, or a cursor from an earlier run
  --json               print one JSON object per payment instead of [LOG] lines
  --timeout SECONDS    give up connecting after this long (default 10)
  -h, --help           show this help
`;

interface Options {
  server: string;
  count: number;
  from: string;
  json: boolean;
  timeoutMs: number;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      server: { type: "string" },
      count: { type: "string" },
      from: { type: "string", default: "latest" },
      json: { type: "boolean", default: false },
      timeout: { type: "string", default: "10" },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const count = values.count === undefined ? 0 : Number(values.count);
  if (!Number.isInteger(count) || count < 0) throw new Error(`--count ${values.count}: want a whole number ≥ 0`);
  const timeout = Number(values.timeout);
  if (!Number.isFinite(timeout) || timeout <= 0) throw new Error(`--timeout ${values.timeout}: want seconds > 0`);
  return {
    server: values.server ?? process.env.GRPC_SERVER ?? "localhost:50051",
    count,
    from: values.from ?? "latest",
    json: values.json ?? false,
    timeoutMs: timeout * 1000,
  };
}

function startRequest(from: string) {
  if (from === "latest") return { start: StartPosition.START_POSITION_LATEST };
  if (from === "earliest") return { start: StartPosition.START_POSITION_EARLIEST };
  return { cursor: from };
}

async function main(): Promise<number> {
  let opts: Options;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`client: ${(err as Error).message} (run with --help)\n`);
    return 2;
  }
  const client = new PaymentClient({ address: opts.server });
  const abort = new AbortController();
  process.once("SIGINT", () => abort.abort());
  process.once("SIGTERM", () => abort.abort());
  let received = 0;
  let lastCursor = "";
  let connected = false;
  try {
    await client.waitForReady(opts.timeoutMs);
    connected = true;
    log("[CLIENT] Connected to gRPC server");
    for await (const { payment, cursor } of client.stream(startRequest(opts.from), abort.signal)) {
      if (!payment) continue;
      received++;
      lastCursor = cursor;
      process.stdout.write((opts.json ? JSON.stringify(Payment.toJSON(payment)) : paymentLine(payment)) + "\n");
      if (opts.count > 0 && received >= opts.count) break;
    }
  } catch (err) {
    const e = err as Error;
    const hint = !connected
      ? ` (is the server running at ${opts.server}? \`make server\` starts it)`
      : "";
    process.stderr.write(`[CLIENT] Error: ${e.message}${hint}\n`);
    return 1;
  } finally {
    client.close();
  }
  log(`[CLIENT] Received ${received} payment(s)${lastCursor ? `; resume with --from ${lastCursor}` : ""}`);
  return 0;

  // In --json mode stdout carries only payments; status lines go to stderr.
  function log(line: string) {
    (opts.json ? process.stderr : process.stdout).write(line + "\n");
  }
}

main().then((code) => process.exit(code));
