// Command-line parsing (pure), and the CLI as a process against a scripted
// in-process server: output contract, exit codes, Ctrl-C, reconnection lines.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { type Cli, GATEWAY_NAMES, HELP, STATUS_NAMES, UsageError, buildStreamRequest, isLoopback, parseCli, parseFrom, parseTime, transportWarning } from "../src/cli";
import { Gateway, PaymentStatus, StartPosition } from "../src/gen/payment";
import { fail, payment, payments, send, serviceError, startFake, startIndex } from "./scripted-server";
import { execFileSync } from "node:child_process";
import { NODE_SERVICE, mutualTLSCerts, run, runCli, startCli } from "./harness";
import { readFileSync } from "node:fs";
import { rm } from "node:fs/promises";

function stream(cli: Cli) {
  assert.equal(cli.command.kind, "stream");
  return cli.command;
}

function usage(argv: string[], pattern: RegExp, env: NodeJS.ProcessEnv = {}) {
  assert.throws(() => parseCli(argv, env), (err: unknown) => {
    assert.ok(err instanceof UsageError, String(err));
    assert.match(err.message, pattern);
    assert.ok(!err.message.includes("\n"), `one line: ${err.message}`);
    return true;
  });
}

describe("parseCli", () => {
  test("defaults: stream from latest on localhost:50051, no filters", () => {
    const cli = parseCli([]);
    assert.equal(cli.server, "localhost:50051");
    assert.equal(cli.json, false);
    assert.equal(cli.tls, false);
    assert.equal(cli.token, undefined);
    assert.equal(cli.timeoutMs, 10_000);
    assert.deepEqual(stream(cli), {
      kind: "stream",
      count: 0,
      request: { gateways: [], currencies: [], statuses: [], start: StartPosition.START_POSITION_LATEST, cursor: "", since: undefined },
    });
  });

  test("server and token: flag, then environment, then default", () => {
    assert.equal(parseCli([], { GRPC_SERVER: "10.0.0.1:9000" }).server, "10.0.0.1:9000");
    assert.equal(parseCli(["--server", "h:1"], { GRPC_SERVER: "10.0.0.1:9000" }).server, "h:1");
    assert.equal(parseCli([], { GRPC_SERVER: "" }).server, "localhost:50051");
    assert.equal(parseCli([], { GRPC_TOKEN: "env-token" }).token, "env-token");
    assert.equal(parseCli(["--token", "flag-token"], { GRPC_TOKEN: "env-token" }).token, "flag-token");
    assert.equal(parseCli([], { GRPC_TOKEN: "" }).token, undefined);
  });

  test("tls, ca, timeout, json, count", () => {
    const cli = parseCli(["--ca", "/etc/ca.pem", "--timeout", "2.5", "--json", "--count", "7"]);
    assert.equal(cli.tls, true, "--ca implies --tls");
    assert.equal(cli.caFile, "/etc/ca.pem");
    assert.equal(cli.timeoutMs, 2500);
    assert.equal(cli.json, true);
    assert.equal(stream(cli).count, 7);
    assert.equal(parseCli(["--tls"]).tls, true);
  });

  test("filters: comma lists, repeated flags, any case, with or without prefixes, no repeats", () => {
    const { request } = stream(parseCli([
      "--gateway", "stripe,RAZORPAY", "--gateway", "GATEWAY_paypal, stripe",
      "--currency", "usd,INR", "--currency", "jpy",
      "--status", "completed,Failed", "--status", "partially-refunded,PAYMENT_STATUS_CANCELED",
    ]));
    assert.deepEqual(request.gateways, [Gateway.GATEWAY_STRIPE, Gateway.GATEWAY_RAZORPAY, Gateway.GATEWAY_PAYPAL]);
    assert.deepEqual(request.currencies, ["USD", "INR", "JPY"]);
    assert.deepEqual(request.statuses, [
      PaymentStatus.PAYMENT_STATUS_COMPLETED, PaymentStatus.PAYMENT_STATUS_FAILED,
      PaymentStatus.PAYMENT_STATUS_PARTIALLY_REFUNDED, PaymentStatus.PAYMENT_STATUS_CANCELED,
    ]);
  });

  test("every gateway and status name parses", () => {
    assert.deepEqual(GATEWAY_NAMES, ["stripe", "razorpay", "paypal", "adyen", "square"]);
    assert.deepEqual(STATUS_NAMES, ["pending", "authorized", "completed", "failed", "canceled", "refunded", "partially_refunded"]);
    const req = buildStreamRequest({ gateways: GATEWAY_NAMES, currencies: [], statuses: STATUS_NAMES, from: "latest" });
    assert.deepEqual(req.gateways, [1, 2, 3, 4, 5]);
    assert.deepEqual(req.statuses, [1, 2, 3, 4, 5, 6, 7]);
  });

  test("invalid names are rejected with the valid values", () => {
    usage(["--gateway", "stripe,bitcoinpay"], /^--gateway: "bitcoinpay" is not a gateway; valid: stripe, razorpay, paypal, adyen, square$/);
    usage(["--gateway", "unspecified"], /is not a gateway; valid: stripe/);
    usage(["--status", "done"], /^--status: "done" is not a payment status; valid: pending, authorized, completed, failed, canceled, refunded, partially_refunded$/);
    usage(["--status", "PAYMENT_STATUS_UNSPECIFIED"], /is not a payment status/);
    usage(["--currency", "US"], /^--currency: "US" is not an ISO 4217 currency code/);
    usage(["--currency", "XYZ"], /^--currency: "XYZ" is not an ISO 4217 currency code/);
    usage(["--gateway", ","], /^--gateway: want at least one value$/);
    usage(["get", "bitcoinpay", "x"], /^get: "bitcoinpay" is not a gateway; valid: stripe/);
  });

  test("--from: latest, earliest, cursor, RFC 3339 time", () => {
    const none = { start: StartPosition.START_POSITION_UNSPECIFIED, cursor: "", since: undefined };
    assert.deepEqual(parseFrom("latest"), { ...none, start: StartPosition.START_POSITION_LATEST });
    assert.deepEqual(parseFrom("EARLIEST"), { ...none, start: StartPosition.START_POSITION_EARLIEST });
    assert.deepEqual(parseFrom("c1.MD0zLDE9MTMsMj04"), { ...none, cursor: "c1.MD0zLDE9MTMsMj04" });
    assert.deepEqual(parseFrom("2026-11-25T10:00:00Z"), { ...none, since: new Date("2026-11-25T10:00:00.000Z") });
    const cases: Array<[string, string]> = [
      ["2026-11-25T10:00:00.123456789Z", "2026-11-25T10:00:00.123Z"],
      ["2026-11-25t10:00:00.5z", "2026-11-25T10:00:00.500Z"],
      ["2026-11-25 15:30:00+05:30", "2026-11-25T10:00:00.000Z"],
      ["2026-11-25T05:00:00-05:00", "2026-11-25T10:00:00.000Z"],
      ["2024-02-29T00:00:00Z", "2024-02-29T00:00:00.000Z"],
      ["0099-01-01T00:00:00Z", "0099-01-01T00:00:00.000Z"],
    ];
    for (const [input, want] of cases) assert.equal(parseTime(input)?.toISOString(), want, input);
    for (const bad of ["2026-11-25", "2026-11-25T10:00:00", "2026-13-01T00:00:00Z", "2025-02-29T00:00:00Z", "2026-11-31T00:00:00Z", "2026-11-25T24:00:00Z", "2026-11-25T10:00:00+25:00"]) {
      assert.equal(parseTime(bad), undefined, bad);
      usage(["--from", bad], /^--from: ".*" is not an RFC 3339 time/);
    }
    usage(["--from", ""], /^--from: want latest, earliest, a cursor or an RFC 3339 time$/);
    usage(["--from", "c1 x"], /^--from: "c1 x": a cursor has no spaces$/);
    const { request } = stream(parseCli(["--from", "2026-11-25T10:00:00Z", "--gateway", "adyen"]));
    assert.equal(request.since?.toISOString(), "2026-11-25T10:00:00.000Z");
    assert.equal(request.start, StartPosition.START_POSITION_UNSPECIFIED);
    assert.equal(request.cursor, "");
  });

  test("subcommands", () => {
    assert.deepEqual(parseCli(["get", "Stripe", "pi_123", "--json"]).command, { kind: "get", gateway: Gateway.GATEWAY_STRIPE, id: "pi_123" });
    assert.deepEqual(parseCli(["--server", "h:1", "stats"]).command, { kind: "stats" });
    assert.deepEqual(parseCli(["stats", "--help"]).command, { kind: "help" });
    usage(["get", "stripe"], /^get: want a gateway and a payment id/);
    usage(["get", "stripe", "a", "b"], /^get: unexpected argument "b"$/);
    usage(["stats", "extra"], /^stats: unexpected argument "extra"$/);
    usage(["stats", "--gateway", "stripe"], /^--gateway applies to streaming, not to "stats"$/);
    usage(["get", "stripe", "x", "--count", "2"], /^--count applies to streaming, not to "get"$/);
    usage(["frobnicate"], /^unknown command "frobnicate" \(commands: get, stats\)$/);
    usage(["earliest"], /^unknown command "earliest"/);
  });

  test("bad flags: one line naming the flag", () => {
    usage(["--bogus"], /^unknown flag --bogus$/);
    usage(["-x"], /^unknown flag -x$/);
    usage(["--count"], /^--count needs a value$/);
    usage(["--count", "--json"], /^--count needs a value \(for one that starts with "-", write --count=VALUE\)$/);
    usage(["--json=yes"], /^--json takes no value$/);
    usage(["--count=-1"], /^--count "-1": want a whole number ≥ 0$/);
    usage(["--count", "1.5"], /^--count "1.5": want a whole number ≥ 0$/);
    usage(["--count", "1e3"], /^--count "1e3": want a whole number ≥ 0$/);
    usage(["--timeout", "0"], /^--timeout "0": want seconds > 0$/);
    usage(["--timeout", "soon"], /^--timeout "soon": want a number$/);
    usage(["--server", ""], /^--server: want HOST:PORT/);
    usage(["--ca", ""], /^--ca: want the path of a PEM file$/);
    usage(["--cert", "c.pem"], /^--cert and --key go together/);
    usage(["--key", "k.pem"], /^--cert and --key go together/);
    usage([], /^--cert and --key go together/, { GRPC_CLIENT_CERT: "c.pem" });
    usage(["--cert", "", "--key", "k.pem"], /^--cert: want the path of a PEM file$/);
  });

  test("client certificate: flags, then environment; implies TLS", () => {
    const flags = parseCli(["--cert", "c.pem", "--key", "k.pem"]);
    assert.equal(flags.certFile, "c.pem");
    assert.equal(flags.keyFile, "k.pem");
    assert.equal(flags.tls, true);
    const env = parseCli([], { GRPC_CLIENT_CERT: "ec.pem", GRPC_CLIENT_KEY: "ek.pem" });
    assert.equal(env.certFile, "ec.pem");
    assert.equal(env.keyFile, "ek.pem");
    assert.equal(parseCli([]).certFile, undefined);
  });

  test("a token without TLS to another machine is warned about", () => {
    const cases: Array<[string, string | undefined, boolean, boolean]> = [
      ["payments.example.com:50051", "tok-q7", false, true],
      ["10.0.0.7:50051", "tok-q7", false, true],
      ["[2001:db8::1]:50051", "tok-q7", false, true],
      ["payments.example.com:50051", "t", true, false],
      ["payments.example.com:50051", undefined, false, false],
      ["localhost:50051", "t", false, false],
      ["127.0.0.1:50051", "t", false, false],
      ["[::1]:50051", "t", false, false],
    ];
    for (const [server, token, tls, warn] of cases) {
      const w = transportWarning({ server, token, tls });
      assert.equal(w !== undefined, warn, `${server} token=${token} tls=${tls}: ${w}`);
      if (w) {
        assert.match(w, /without TLS/);
        assert.ok(!w.includes(token ?? "\u0000"), "the warning does not show the token");
      }
    }
    assert.equal(isLoopback("LOCALHOST:1"), true);
    assert.equal(isLoopback("127.10.0.1:1"), true);
    assert.equal(isLoopback("128.0.0.1:1"), false);
  });

  test("--help documents every flag, subcommand and environment variable", () => {
    for (const word of ["--server", "--gateway", "--currency", "--status", "--from", "--json", "--count", "--token", "--tls", "--ca", "--cert", "--key", "--timeout", "--help",
      "get <gateway> <id>", "stats", "GRPC_SERVER", "GRPC_TOKEN", "GRPC_CLIENT_CERT", "GRPC_CLIENT_KEY", "NO_COLOR", '"cursor"', "earliest", "latest", "RFC 3339", ...GATEWAY_NAMES, ...STATUS_NAMES]) {
      assert.ok(HELP.includes(word), `help mentions ${word}`);
    }
  });
});

// Each test starts its own processes and server: they run side by side.
describe("the CLI process", { concurrency: true }, () => {
  const stops: Array<() => Promise<void>> = [];
  after(async () => {
    for (const stop of stops) await stop();
  });
  async function fake(handlers: Parameters<typeof startFake>[0]) {
    const f = await startFake(handlers);
    stops.push(() => f.stop());
    return f;
  }

  test("--help exits 0; a bad flag exits 2 with one line on stderr", async () => {
    const help = await runCli(["--help"]);
    assert.equal(help.code, 0);
    assert.equal(help.stdout, HELP);
    const cases: Array<[string[], string]> = [
      [["--bogus"], "client: unknown flag --bogus (run with --help)\n"],
      [["--status", "done"], "client: --status: \"done\" is not a payment status; valid: pending, authorized, completed, failed, canceled, refunded, partially_refunded (run with --help)\n"],
      [["--ca", "/nonexistent/ca.pem"], "client: --ca /nonexistent/ca.pem: ENOENT (run with --help)\n"],
    ];
    await Promise.all(cases.map(async ([args, want]) => {
      const r = await runCli(args);
      assert.equal(r.code, 2, args.join(" "));
      assert.equal(r.stderr, want);
      assert.equal(r.stdout, "");
    }));
  });

  test("cannot connect: exit 1 with a hint", async () => {
    const f = await startFake({});
    const address = f.address;
    await f.stop(); // nothing listens there any more
    const r = await runCli(["--server", address, "--timeout", "1"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^\[CLIENT\] Error: cannot reach 127\.0\.0\.1:\d+ within 1s: .*make server/m);
  });

  test("Ctrl-C ends the stream: exit 0, summary with the cursor, no color without a TTY", async () => {
    const f = await fake({ stream: (call) => send(call, payments(2), 0, 2) });
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      const cli = startCli(["--server", f.address, "--token", "t0k"], { FORCE_COLOR: "1" });
      await cli.waitFor(/\[LOG\] Payment: pay_1 /);
      cli.kill(signal);
      const r = await cli.done;
      assert.equal(r.code, 0, `${signal}: ${r.stderr}`);
      assert.equal(r.stdout,
        "[CLIENT] Connected to gRPC server\n" +
        "[LOG] Payment: pay_0 | $50.00 USD | STRIPE | COMPLETED\n" +
        "[LOG] Payment: pay_1 | ₹50.00 INR | RAZORPAY | COMPLETED\n" +
        "[CLIENT] Received 2 payment(s); resume with --from k1\n");
      assert.equal(r.stderr, "");
    }
    assert.deepEqual(f.metadata.map((m) => m.get("authorization")), [["Bearer t0k"], ["Bearer t0k"]]);
  });

  test("on a terminal the summary is green, unless NO_COLOR is set", async (t) => {
    // util-linux `script` runs the CLI on a pseudo-terminal.
    try {
      execFileSync("script", ["--version"], { stdio: "ignore" });
    } catch {
      t.skip("no `script` command to make a pseudo-terminal");
      return;
    }
    const f = await fake({ stream: (call) => send(call, payments(1), 0, 1) });
    const quote = (a: string) => `'${a.replace(/'/g, "'\\''")}'`;
    const command = [process.execPath, "--import", "tsx", "src/index.ts", "--server", f.address, "--count", "1"].map(quote).join(" ");
    const onTTY = (env: NodeJS.ProcessEnv) =>
      run("script", ["-q", "-e", "-c", command, "/dev/null"], { cwd: NODE_SERVICE, env: { ...process.env, NO_COLOR: "", ...env }, timeoutMs: 30_000 }).done;
    const [color, plain] = await Promise.all([onTTY({}), onTTY({ NO_COLOR: "1" })]);
    assert.equal(color.code, 0, color.stdout);
    assert.match(color.stdout, /\u001b\[32m\[CLIENT\] Received 1 payment\(s\); resume with --from k0\u001b\[39m/);
    assert.match(color.stdout, /^\[LOG\] Payment: pay_0 \| \$50\.00 USD \| STRIPE \| COMPLETED\r?$/m, "payment lines stay plain");
    assert.equal(plain.code, 0, plain.stdout);
    assert.match(plain.stdout, /^\[CLIENT\] Received 1 payment\(s\); resume with --from k0\r?$/m);
    assert.doesNotMatch(plain.stdout, /\u001b\[/);
  });

  test("--json: payments alone on stdout, one JSON object per line; status lines on stderr", async () => {
    const f = await fake({ stream: (call) => send(call, payments(3), 0, 3) });
    const r = await runCli(["--server", f.address, "--json", "--count", "3", "--from", "earliest", "--gateway", "stripe"]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split("\n");
    const parsed = lines.map((l) => JSON.parse(l) as { payment: { id: string }; cursor: string });
    assert.deepEqual(parsed.map((l) => l.payment.id), ["pay_0", "pay_1", "pay_2"]);
    assert.deepEqual(parsed.map((l) => l.cursor), ["k0", "k1", "k2"], "each payment comes with the cursor that resumes after it");
    assert.deepEqual(JSON.parse(lines[0] ?? ""), {
      payment: {
        id: "pay_0", gateway: "GATEWAY_STRIPE", amount: { amountMinor: "5000", currency: "USD" },
        status: "PAYMENT_STATUS_COMPLETED", method: "card", eventId: "evt_pay_0",
      },
      cursor: "k0",
    });
    assert.equal(r.stderr, "[CLIENT] Connected to gRPC server\n[CLIENT] Received 3 payment(s); resume with --from k2\n");
    assert.deepEqual(f.requests[0]?.gateways, [Gateway.GATEWAY_STRIPE]);
    assert.equal(f.requests[0]?.start, StartPosition.START_POSITION_EARLIEST);
  });

  test("a broken stream is resumed: the Reconnected line, nothing printed twice", async () => {
    const list = payments(5);
    const f = await fake({
      stream: (call, n) => {
        const from = startIndex(call.request);
        send(call, list, from, n === 0 ? 2 : 5);
        if (n === 0) fail(call, grpc.status.UNAVAILABLE, "server is shutting down");
      },
    });
    const r = await runCli(["--server", f.address, "--count", "5"]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split("\n");
    assert.deepEqual(lines.filter((l) => l.startsWith("[LOG]")).map((l) => l.split(" ")[2]), ["pay_0", "pay_1", "pay_2", "pay_3", "pay_4"]);
    assert.match(r.stdout, /^\[CLIENT\] Stream interrupted \(UNAVAILABLE: server is shutting down\); reconnecting in \d+ ms$/m);
    assert.match(r.stdout, /^\[CLIENT\] Reconnected, resuming after k1$/m);
    assert.deepEqual(f.requests.map((q) => q.cursor), ["", "k1"]);
  });

  test("a refused request ends with exit 1 and the server's reason", async () => {
    const f = await fake({ stream: (call) => fail(call, grpc.status.INVALID_ARGUMENT, "cursor: malformed cursor") });
    const r = await runCli(["--server", f.address, "--from", "bogus-cursor"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^\[CLIENT\] Error: INVALID_ARGUMENT: cursor: malformed cursor$/m);
    assert.equal(f.requests[0]?.cursor, "bogus-cursor");
  });

  test("get: the payment line, JSON, or exit 1 when not found", async () => {
    const f = await fake({
      getPayment: (req) => (req.id === "pay_9" ? { payment: payment("pay_9", req.gateway, PaymentStatus.PAYMENT_STATUS_REFUNDED) } : serviceError(grpc.status.NOT_FOUND, "no")),
    });
    const [line, json, missing] = await Promise.all([
      runCli(["--server", f.address, "get", "razorpay", "pay_9"]),
      runCli(["--server", f.address, "get", "razorpay", "pay_9", "--json"]),
      runCli(["--server", f.address, "get", "stripe", "pi_nope"]),
    ]);
    assert.equal(line.code, 0, line.stderr);
    assert.equal(line.stdout, "[LOG] Payment: pay_9 | ₹50.00 INR | RAZORPAY | REFUNDED\n");
    assert.equal((JSON.parse(json.stdout) as { status: string }).status, "PAYMENT_STATUS_REFUNDED");
    assert.equal(missing.code, 1);
    assert.equal(missing.stdout, "");
    assert.equal(missing.stderr, "[CLIENT] Error: payment not found: the server knows no stripe payment with id \"pi_nope\"\n");
  });
  test("a crafted id and server message reach the terminal escaped", async () => {
    const evil = "pi_\u001b]0;owned\u0007\u001b[2J";
    const f = await fake({
      stream: (call) => {
        call.write({ payment: payment(evil), cursor: "k\u001b[31m0" });
        fail(call, grpc.status.INVALID_ARGUMENT, "bad \u001b[31mthing\u009b");
      },
      getPayment: () => serviceError(grpc.status.NOT_FOUND, "no"),
    });
    const [r, get] = await Promise.all([
      runCli(["--server", f.address, "--from", "earliest"]),
      runCli(["--server", f.address, "get", "stripe", evil]),
    ]);
    for (const out of [r.stdout, r.stderr, get.stdout, get.stderr]) {
      assert.doesNotMatch(out, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/, JSON.stringify(out));
    }
    assert.match(r.stdout, /^\[LOG\] Payment: pi_\\x1b\]0;owned\\x07\\x1b\[2J \|/m);
    assert.match(r.stderr, /INVALID_ARGUMENT: bad \\x1b\[31mthing\\x9b/);
    assert.match(get.stderr, /payment not found: .*pi_\\\\u001b/);
  });

  test("a client certificate gets through a server that requires one; none or a stranger's does not", async (t) => {
    const certs = await mutualTLSCerts();
    t.after(() => rm(certs.dir, { recursive: true, force: true }));
    const creds = grpc.ServerCredentials.createSsl(readFileSync(certs.ca),
      [{ cert_chain: readFileSync(certs.serverCert), private_key: readFileSync(certs.serverKey) }], true);
    const f = await startFake({ stream: (call) => send(call, payments(1), 0, 1) }, 0, creds);
    stops.push(() => f.stop());
    const common = ["--server", f.address, "--ca", certs.ca, "--count", "1", "--timeout", "3"];
    const [good, none, stranger] = await Promise.all([
      runCli([...common, "--cert", certs.clientCert, "--key", certs.clientKey]),
      runCli(common),
      runCli(common, { GRPC_CLIENT_CERT: certs.strangerCert, GRPC_CLIENT_KEY: certs.strangerKey }),
    ]);
    assert.equal(good.code, 0, good.stderr);
    assert.match(good.stdout, /^\[LOG\] Payment: pay_0 /m);
    assert.equal(none.code, 1, "no client certificate: refused");
    assert.equal(stranger.code, 1, "a certificate the CA did not sign: refused");
  });

  test("--token over plaintext to another host: a warning on stderr, without the token", async () => {
    // Nothing listens on TEST-NET-1 (RFC 5737): the client warns, then fails to connect.
    const r = await runCli(["--server", "192.0.2.1:50051", "--token", "s3cret-x", "--timeout", "0.5"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^\[CLIENT\] Warning: the token goes to 192\.0\.2\.1:50051 without TLS/m);
    assert.ok(!(r.stdout + r.stderr).includes("s3cret-x"));
  });
});
