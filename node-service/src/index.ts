// The course's third terminal: connects to the gRPC server and prints every
// payment as it arrives; `get` and `stats` query the server once.
//
//   npx tsx src/index.ts [--server localhost:50051] [--from earliest|latest|<cursor>|<time>] [--json] …
//   npx tsx src/index.ts get stripe pi_3Q…
//   npx tsx src/index.ts stats
//
// Run with --help for every flag. The library underneath is src/client.ts.
import { readFileSync } from "node:fs";
import { type Cli, HELP, UsageError, parseCli, transportWarning } from "./cli";
import { type DisconnectInfo, PaymentClient, type ReconnectInfo, describeError, isStatus } from "./client";
import { paymentLine, safeJSON, safeText } from "./format";
import { paint, paymentJSON, statsTable, streamJSON, summaryLine, useColor } from "./output";
import { GetStatsResponse, gatewayToJSON } from "./gen/payment";
import { status } from "@grpc/grpc-js";

type Out = NodeJS.WriteStream;

async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  let cli: Cli;
  let ca: Buffer | undefined;
  let cert: Buffer | undefined;
  let key: Buffer | undefined;
  try {
    cli = parseCli(argv, env);
    if (cli.caFile !== undefined) ca = readPEM("--ca", cli.caFile);
    if (cli.certFile !== undefined && cli.keyFile !== undefined) {
      cert = readPEM("--cert", cli.certFile);
      key = readPEM("--key", cli.keyFile);
    }
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`client: ${err.message} (run with --help)\n`);
    return 2;
  }
  if (cli.command.kind === "help") {
    process.stdout.write(HELP);
    return 0;
  }
  const warning = transportWarning(cli);
  if (warning) process.stderr.write(paint(warning, "yellow", useColor(process.stderr, env)) + "\n");
  const client = new PaymentClient({ address: cli.server, tls: cli.tls, ca, cert, key, token: cli.token });
  try {
    switch (cli.command.kind) {
      case "stream":
        return await stream(client, cli, cli.command.request, cli.command.count, env);
      case "get":
        return await get(client, cli, cli.command.gateway, cli.command.id);
      case "stats":
        return await stats(client, cli);
    }
  } finally {
    client.close();
  }
}

async function stream(
  client: PaymentClient,
  cli: Cli,
  request: Parameters<PaymentClient["payments"]>[0],
  count: number,
  env: NodeJS.ProcessEnv,
): Promise<number> {
  // In --json mode stdout carries only payments; status lines go to stderr.
  const statusOut: Out = cli.json ? process.stderr : process.stdout;
  const color = useColor(statusOut, env);
  const log = (line: string) => statusOut.write(line + "\n");

  // Ctrl-C (or SIGTERM) ends the stream cleanly; a second one exits at once.
  const abort = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (abort.signal.aborted) process.exit(signal === "SIGINT" ? 130 : 143);
    abort.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  let received = 0;
  let lastCursor = "";
  try {
    try {
      await client.waitForReady(cli.timeoutMs, abort.signal);
    } catch (err) {
      if (abort.signal.aborted) {
        log(paint(summaryLine(0, ""), "green", color));
        return 0;
      }
      process.stderr.write(
        paint(safeText(`[CLIENT] Error: cannot reach ${cli.server} within ${cli.timeoutMs / 1000}s: ${describeError(err)} (is the server running? \`make server\` starts it)`), "red", useColor(process.stderr, env)) + "\n",
      );
      return 1;
    }
    log("[CLIENT] Connected to gRPC server");
    const payments = client.payments(request, {
      signal: abort.signal,
      onDisconnect: (i: DisconnectInfo) =>
        log(paint(safeText(`[CLIENT] ${i.error ? `Stream interrupted (${describeError(i.error)})` : "Server ended the stream"}; reconnecting in ${i.delayMs} ms`), "yellow", color)),
      onReconnect: (i: ReconnectInfo) =>
        log(paint(i.cursor ? `[CLIENT] Reconnected, resuming after ${safeText(i.cursor)}` : "[CLIENT] Reconnected, starting again (no payment received yet)", "yellow", color)),
    });
    for await (const { payment, cursor } of payments) {
      received++;
      lastCursor = cursor;
      process.stdout.write((cli.json ? streamJSON(payment, cursor) : paymentLine(payment)) + "\n");
      if (count > 0 && received >= count) break;
    }
  } catch (err) {
    process.stderr.write(paint(safeText(`[CLIENT] Error: ${describeError(err)}`), "red", useColor(process.stderr, env)) + "\n");
    if (received > 0) log(summaryLine(received, lastCursor));
    return 1;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  log(paint(summaryLine(received, lastCursor), "green", color));
  return 0;
}

async function get(client: PaymentClient, cli: Cli, gateway: Parameters<PaymentClient["getPayment"]>[0], id: string): Promise<number> {
  try {
    const payment = await client.getPayment(gateway, id, { timeoutMs: cli.timeoutMs });
    if (!payment) throw new Error("the server answered without a payment");
    process.stdout.write((cli.json ? paymentJSON(payment) : paymentLine(payment)) + "\n");
    return 0;
  } catch (err) {
    const name = gatewayToJSON(gateway).replace(/^GATEWAY_/, "").toLowerCase();
    const message = isStatus(err, status.NOT_FOUND)
      ? `payment not found: the server knows no ${name} payment with id ${JSON.stringify(id)}`
      : describeError(err) + connectHint(err, cli);
    process.stderr.write(safeText(`[CLIENT] Error: ${message}`) + "\n");
    return 1;
  }
}

async function stats(client: PaymentClient, cli: Cli): Promise<number> {
  try {
    const s = await client.getStats({ timeoutMs: cli.timeoutMs });
    process.stdout.write(cli.json ? safeJSON(JSON.stringify(GetStatsResponse.toJSON(s))) + "\n" : statsTable(s));
    return 0;
  } catch (err) {
    process.stderr.write(safeText(`[CLIENT] Error: ${describeError(err)}${connectHint(err, cli)}`) + "\n");
    return 1;
  }
}

function connectHint(err: unknown, cli: Cli): string {
  return isStatus(err, status.UNAVAILABLE) || isStatus(err, status.DEADLINE_EXCEEDED)
    ? ` (is the server running at ${cli.server}? \`make server\` starts it)`
    : "";
}

function readPEM(flag: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new UsageError(`${flag} ${file}: ${(err as NodeJS.ErrnoException).code ?? describeError(err)}`);
  }
}

// Deprecation warnings are for developers, not for the people running this
// command (grpc-js triggers DEP0123 when --tls connects to an IP address).
process.noDeprecation = true;

// A reader that went away (`… | head`) is not an error.
for (const out of [process.stdout, process.stderr]) {
  out.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(0);
    throw err;
  });
}

main(process.argv.slice(2), process.env).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`client: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
