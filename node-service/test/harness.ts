// Test helpers: run the CLI as a process, and run the real Go server and
// producer against the real Kafka (topics and consumer group unique to each
// test, so tests never see each other's payments). Everything started here
// is tracked and killed by killAll() (and at the latest when the test process
// exits); the topics of the tests that passed are deleted by
// deletePassedTopics().
import { type ChildProcess, execFile, spawn } from "node:child_process";
import type { TestContext } from "node:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import * as grpc from "@grpc/grpc-js";
import { BinaryReader } from "@bufbuild/protobuf/wire";
import { type PaymentClient, type PaymentEvent } from "../src/client";
import type { StreamPaymentsRequest } from "../src/gen/payment";

export const NODE_SERVICE = path.resolve(__dirname, "..");
export const GO_SERVICE = path.resolve(NODE_SERVICE, "../go-service");

// ---------------------------------------------------------------- processes

const children = new Set<ChildProcess>();

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.on("exit", () => children.delete(child));
  return child;
}

// killAll kills every process this file started that is still running.
export function killAll(): void {
  for (const c of children) c.kill("SIGKILL");
}
process.on("exit", killAll);

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Running {
  proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  // waitFor resolves when stdout + stderr match re; rejects if the process
  // exits first or after timeoutMs.
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  kill(signal?: NodeJS.Signals): void;
  done: Promise<Finished>;
}

export function run(file: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Running {
  const proc = track(spawn(file, args, { cwd: opts.cwd, env: opts.env, stdio: ["ignore", "pipe", "pipe"] }));
  let stdout = "";
  let stderr = "";
  const listeners = new Set<() => void>();
  const changed = () => listeners.forEach((l) => l());
  proc.stdout?.setEncoding("utf8").on("data", (d: string) => ((stdout += d), changed()));
  proc.stderr?.setEncoding("utf8").on("data", (d: string) => ((stderr += d), changed()));
  const killer = opts.timeoutMs === undefined ? undefined : setTimeout(() => proc.kill("SIGKILL"), opts.timeoutMs);
  const done = new Promise<Finished>((resolve) => {
    proc.on("close", (code, signal) => {
      if (killer) clearTimeout(killer);
      resolve({ code, signal, stdout, stderr });
      changed();
    });
  });
  let exited = false;
  void done.then(() => (exited = true));
  return {
    proc,
    stdout: () => stdout,
    stderr: () => stderr,
    kill: (signal = "SIGTERM") => void proc.kill(signal),
    done,
    waitFor(re, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = (stdout + stderr).match(re);
          if (m) finish(() => resolve(m));
          else if (exited) finish(() => reject(new Error(`${path.basename(file)} exited before printing ${re}:\n${stdout}${stderr}`)));
        };
        const timer = setTimeout(() => finish(() => reject(new Error(`${path.basename(file)} did not print ${re} within ${timeoutMs} ms:\n${stdout}${stderr}`))), timeoutMs);
        const finish = (f: () => void) => {
          clearTimeout(timer);
          listeners.delete(check);
          f();
        };
        listeners.add(check);
        check();
      });
    },
  };
}

// The CLI's environment: this one, minus what would change its behavior.
function cliEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of ["GRPC_SERVER", "GRPC_TOKEN", "NO_COLOR", "FORCE_COLOR", "NODE_TEST_CONTEXT"]) delete env[k];
  return { ...env, ...extra };
}

// startCli runs `node --import tsx src/index.ts …` (what `npx tsx src/index.ts` runs).
export function startCli(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Running {
  return run(process.execPath, ["--import", "tsx", "src/index.ts", ...args], { cwd: NODE_SERVICE, env: cliEnv(env), timeoutMs });
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<Finished> {
  return startCli(args, env, timeoutMs).done;
}

// ---------------------------------------------------------------- Kafka

export const KAFKA = process.env.KAFKA_BOOTSTRAP_SERVERS || "127.0.0.1:9092";

function reachable(hostPort: string, timeoutMs = 2000): Promise<boolean> {
  const i = hostPort.lastIndexOf(":");
  const host = hostPort.slice(0, i).replace(/^\[|\]$/g, "");
  const port = Number(hostPort.slice(i + 1));
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: timeoutMs });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once("connect", () => done(true));
    socket.once("timeout", () => done(false));
    socket.once("error", () => done(false));
  });
}

// kafkaSkipReason returns why integration tests cannot run (no Kafka), or
// undefined when they can. With REQUIRE_KAFKA set (as `make test` sets it),
// a missing Kafka is a failure rather than a reason to skip.
export async function kafkaSkipReason(): Promise<string | undefined> {
  const first = KAFKA.split(",")[0] ?? KAFKA;
  if (await reachable(first)) return undefined;
  const why = `no Kafka at ${KAFKA}: start one with \`make kafka-up\``;
  if (process.env.REQUIRE_KAFKA) throw new Error(`integration tests need Kafka (REQUIRE_KAFKA is set): ${why}`);
  return `skipping integration tests: ${why}`;
}

// freePort is a loopback port free a moment ago (for a server that must
// keep its port across a restart, where port 0 would not do).
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

// ---------------------------------------------------------------- Go binaries

export interface Binaries {
  dir: string;
  server: string;
  producer: string;
  topics: string; // go-service/tools/topics: deletes the topics of the tests that passed
}

let built: Promise<Binaries> | undefined;

// buildBinaries builds cmd/server, cmd/producer and tools/topics once per test process.
export function buildBinaries(): Promise<Binaries> {
  built ??= (async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "node-service-it-bin-"));
    for (let attempt = 1; ; attempt++) {
      try {
        await new Promise<void>((resolve, reject) =>
          execFile("go", ["build", "-o", dir + path.sep, "./cmd/server", "./cmd/producer", "./tools/topics"], { cwd: GO_SERVICE, timeout: 240_000 }, (err, _out, stderr) =>
            err ? reject(new Error(`go build ./cmd/server ./cmd/producer ./tools/topics: ${err.message}\n${stderr}`)) : resolve(),
          ),
        );
        break;
      } catch (err) {
        // Someone may be in the middle of editing the Go code: try again shortly.
        if (attempt >= 3) throw err;
        await delay(5000);
      }
    }
    return { dir, server: path.join(dir, "server"), producer: path.join(dir, "producer"), topics: path.join(dir, "topics") };
  })();
  return built;
}

export async function removeBinaries(): Promise<void> {
  if (!built) return;
  const b = await built.catch(() => undefined);
  if (b) await rm(b.dir, { recursive: true, force: true });
}

// ---------------------------------------------------------------- server

export interface Topics {
  raw: string;
  events: string;
  normalized: string;
  state: string;
  dlq: string;
  group: string;
  // The state stage's store: one per test, kept across a restart of its
  // server, never shared by two servers (Pebble locks it).
  stateDir: string;
}

// Outcome is what newTopics needs of a test: whether it passed, read once
// every test of the file has finished. node:test's TestContext has it
// (\`passed\`, which @types/node 20 does not declare); a Playwright test passes
// { get passed() { return info.status === info.expectedStatus } }.
export interface Outcome {
  readonly passed: boolean;
}

interface Owned {
  test: TestContext | Outcome;
  topics: Topics;
}

const owned: Owned[] = [];

// newTopics names the topics, consumer group and state store of test, and
// has deletePassedTopics delete them once test has passed.
export function newTopics(name: string, test: TestContext | Outcome): Topics {
  const prefix = `ts-${name}-${process.pid}-${Date.now() % 1e9}-${Math.floor(Math.random() * 1e6)}`;
  const topics = {
    raw: `${prefix}.payments.raw`,
    events: `${prefix}.payments.events`,
    normalized: `${prefix}.payments.normalized`,
    state: `${prefix}.payments.state`,
    dlq: `${prefix}.payments.dlq`,
    group: `${prefix}-group`,
    stateDir: path.join(tmpdir(), `${prefix}.state`),
  };
  owned.push({ test, topics });
  return topics;
}

const topicNames = (t: Topics) => [t.raw, t.events, t.normalized, t.state, t.dlq];

// deletePassedTopics deletes the topics and state stores of the tests that
// passed (with go-service/tools/topics); a failed test keeps them, their
// records tell what happened, as the Go tests' do. Call it from the file's
// after hook, once every test has finished and killAll() has stopped what
// still ran: a test's own after hooks run before a failed subtest marks it
// failed.
export async function deletePassedTopics(): Promise<void> {
  const done = owned.splice(0);
  const passed = done.filter((o) => (o.test as Partial<Outcome>).passed === true).map((o) => o.topics);
  for (const o of done) {
    if (!passed.includes(o.topics)) console.error(`kept the topics of a test that did not pass: ${topicNames(o.topics).join(" ")} (state store ${o.topics.stateDir})`);
  }
  if (passed.length === 0 || !built) return;
  const bin = await built.catch(() => undefined);
  if (!bin) return;
  const r = await run(bin.topics, ["-delete", passed.flatMap(topicNames).join(",")], { env: goEnv({}), timeoutMs: 90_000 }).done;
  if (r.code !== 0) console.error(`deleting the passed tests' topics failed (${r.code ?? r.signal}): ${r.stderr}`);
  await Promise.all(passed.map((t) => rm(t.stateDir, { recursive: true, force: true })));
}

function goEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...process.env, KAFKA_BOOTSTRAP_SERVERS: KAFKA, ENV_FILE: "/nonexistent", LOG_FORMAT: "text", ...extra };
}

export interface Server {
  addr: string;
  port: number;
  proc: Running;
  log(): string;
  // stop sends SIGTERM and waits for the exit (SIGKILL after 40 s); it
  // resolves to the exit code.
  stop(): Promise<number | null>;
}

// startServer runs the server on 127.0.0.1 (a free port unless given) and
// waits until its grpc.health.v1 service says SERVING: the ingest consumers
// have their partitions and the serve stage has caught up.
export interface ServerOptions {
  port?: number; // default 0: a free one
  env?: NodeJS.ProcessEnv; // more settings (GRPC_AUTH_TOKEN, GRPC_TLS_CERT, …)
  ca?: Buffer; // the server speaks TLS with a certificate this CA signed
}

export async function startServer(bin: Binaries, topics: Topics, opts: ServerOptions = {}): Promise<Server> {
  const proc = run(bin.server, ["-host", "127.0.0.1", "-port", String(opts.port ?? 0)], {
    env: goEnv({
      KAFKA_TOPICS: topics.raw,
      KAFKA_EVENTS_TOPIC: topics.events,
      KAFKA_NORMALIZED_TOPIC: topics.normalized,
      KAFKA_STATE_TOPIC: topics.state,
      KAFKA_DLQ_TOPIC: topics.dlq,
      KAFKA_GROUP_ID: topics.group,
      STATE_DIR: topics.stateDir,
      DASHBOARD_ADDR: "", // off unless a test asks: tests run servers side by side, and its default port is fixed
      ...opts.env,
    }),
  });
  const m = await proc.waitFor(/gRPC listening on :(\d+)/, 60_000);
  const listening = Number(m[1]);
  const addr = `127.0.0.1:${listening}`;
  let stopped: Promise<number | null> | undefined;
  const server: Server = {
    addr,
    port: listening,
    proc,
    log: () => proc.stdout() + proc.stderr(),
    stop: () =>
      (stopped ??= (async () => {
        proc.kill("SIGTERM");
        const killer = setTimeout(() => proc.kill("SIGKILL"), 40_000);
        const r = await proc.done;
        clearTimeout(killer);
        return r.code;
      })()),
  };
  try {
    await waitServing(addr, 60_000, proc, opts.ca);
  } catch (err) {
    await server.stop();
    throw err;
  }
  return server;
}

// waitServing polls grpc.health.v1.Health/Check (no generated client: the
// request is an empty message, the response one varint field).
async function waitServing(addr: string, timeoutMs: number, proc: Running, ca?: Buffer): Promise<void> {
  const client = new grpc.Client(addr, ca ? grpc.credentials.createSsl(ca) : grpc.credentials.createInsecure());
  const deadline = Date.now() + timeoutMs;
  let last = "";
  let exited = false;
  void proc.done.then(() => (exited = true));
  try {
    while (Date.now() < deadline && !exited) {
      const status = await new Promise<number | string>((resolve) =>
        client.makeUnaryRequest(
          "/grpc.health.v1.Health/Check",
          () => Buffer.alloc(0),
          (buf: Buffer) => healthStatus(buf),
          {},
          new grpc.Metadata(),
          { deadline: Date.now() + 1000 },
          (err, res) => resolve(err ? err.message : (res ?? 0)),
        ),
      );
      if (status === 1) return; // SERVING
      last = String(status);
      await delay(200);
    }
  } finally {
    client.close();
  }
  throw new Error(`server at ${addr} not SERVING ${exited ? "(it exited)" : `after ${timeoutMs} ms`} (last: ${last})\n${proc.stdout()}${proc.stderr()}`);
}

function healthStatus(buf: Buffer): number {
  const r = new BinaryReader(buf);
  let status = 0;
  while (r.pos < r.len) {
    const [field, wireType] = r.tag();
    if (field === 1) status = r.int32();
    else r.skip(wireType);
  }
  return status;
}

// selfSignedCert makes a throwaway certificate for 127.0.0.1 and localhost
// (with openssl) and returns the paths of it and its key.
export async function selfSignedCert(): Promise<{ dir: string; cert: string; key: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), "node-service-it-tls-"));
  const cert = path.join(dir, "cert.pem");
  const key = path.join(dir, "key.pem");
  await new Promise<void>((resolve, reject) =>
    execFile("openssl", [
      "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
      "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost",
      "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
    ], { timeout: 30_000 }, (err, _out, stderr) => (err ? reject(new Error(`openssl: ${err.message}\n${stderr}`)) : resolve())),
  );
  return { dir, cert, key };
}

// mutualTLSCerts makes, with openssl, a CA; a server certificate it signs
// (127.0.0.1, localhost); a client certificate it signs; and a client
// certificate it did not sign (self-signed). PEM file paths.
export async function mutualTLSCerts(): Promise<{
  dir: string; ca: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string; strangerCert: string; strangerKey: string;
}> {
  const dir = await mkdtemp(path.join(tmpdir(), "node-service-mtls-"));
  const f = (name: string) => path.join(dir, name);
  const openssl = (...args: string[]) => new Promise<void>((resolve, reject) =>
    execFile("openssl", args, { timeout: 30_000 }, (err, _out, stderr) => (err ? reject(new Error(`openssl ${args[0]}: ${err.message}\n${stderr}`)) : resolve())));
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await openssl("req", "-x509", ...ec, "-keyout", f("ca.key"), "-out", f("ca.pem"), "-days", "1", "-subj", "/CN=test CA");
  const signed = async (name: string, ext: string) => {
    await openssl("req", ...ec, "-keyout", f(`${name}.key`), "-out", f(`${name}.csr`), "-subj", `/CN=${name}`);
    await writeFile(f(`${name}.ext`), ext);
    await openssl("x509", "-req", "-in", f(`${name}.csr`), "-CA", f("ca.pem"), "-CAkey", f("ca.key"), "-CAcreateserial",
      "-days", "1", "-extfile", f(`${name}.ext`), "-out", f(`${name}.pem`));
  };
  await signed("server", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
  await signed("client", "extendedKeyUsage=clientAuth\n");
  await openssl("req", "-x509", ...ec, "-keyout", f("stranger.key"), "-out", f("stranger.pem"), "-days", "1", "-subj", "/CN=stranger");
  return {
    dir, ca: f("ca.pem"), serverCert: f("server.pem"), serverKey: f("server.key"),
    clientCert: f("client.pem"), clientKey: f("client.key"), strangerCert: f("stranger.pem"), strangerKey: f("stranger.key"),
  };
}

// ---------------------------------------------------------------- producer

export interface Sent {
  id: string;
  gateway: string; // lower case, as the producer prints it
  money: string; // as the producer prints it: "$50.00", "3.958 KWD"
  malformed: boolean;
  duplicate: boolean;
}

export interface ProduceOptions {
  count: number;
  seed: number;
  rate?: number; // per second; 0 (default): as fast as Kafka takes them
  mix?: "simple" | "realistic";
  invalidRate?: number;
  gateways?: string;
}

const SENT = /^\[PRODUCER\] Sent: (\S+) \| (\S+) \| (.+?)( \(malformed on purpose: [a-z_]+\)| \(duplicate\))?$/;

// produce runs the producer to the end and returns what it says it sent
// (a "Sent" line is printed only once Kafka acknowledged the record).
export function startProducer(bin: Binaries, topic: string, o: ProduceOptions): { proc: Running; done: Promise<Sent[]> } {
  const args = [
    "--topic", topic, "--count", String(o.count), "--rate", String(o.rate ?? 0), "--seed", String(o.seed),
    "--gateways", o.gateways ?? "stripe,razorpay,paypal,adyen,square", "--mix", o.mix ?? "simple",
    "--invalid-rate", String(o.invalidRate ?? 0),
  ];
  const proc = run(bin.producer, args, { env: goEnv({}), timeoutMs: 120_000 });
  const done = proc.done.then((r) => {
    if (r.code !== 0) throw new Error(`producer exited with ${r.code ?? r.signal}:\n${r.stdout}${r.stderr}`);
    const sent: Sent[] = [];
    for (const line of r.stdout.split("\n")) {
      const m = SENT.exec(line);
      if (!m) continue;
      const [, id = "", gateway = "", money = "", note = ""] = m;
      sent.push({ id, gateway, money, malformed: note.includes("malformed on purpose"), duplicate: note.includes("(duplicate)") });
    }
    if (sent.length !== o.count) throw new Error(`producer printed ${sent.length} Sent lines, want ${o.count}:\n${r.stdout}`);
    return sent;
  });
  return { proc, done };
}

export function produce(bin: Binaries, topic: string, o: ProduceOptions): Promise<Sent[]> {
  return startProducer(bin, topic, o).done;
}

// ---------------------------------------------------------------- streams

// take reads payments() until it has n, failing after timeoutMs; then, if
// quietMs > 0, keeps reading that long so that a caller can check nothing
// more arrives. It returns everything read.
export async function take(
  client: PaymentClient,
  request: Partial<StreamPaymentsRequest>,
  n: number,
  { timeoutMs = 30_000, quietMs = 0 } = {},
): Promise<PaymentEvent[]> {
  const ac = new AbortController();
  const deadline = setTimeout(() => ac.abort(), timeoutMs);
  const got: PaymentEvent[] = [];
  let quiet: NodeJS.Timeout | undefined;
  try {
    if (n === 0 && quietMs === 0) return got;
    if (n === 0) quiet = setTimeout(() => ac.abort(), quietMs);
    for await (const ev of client.payments(request, { signal: ac.signal, backoff: { initialMs: 50, maxMs: 1000 } })) {
      got.push(ev);
      if (got.length === n) {
        if (quietMs === 0) break;
        quiet = setTimeout(() => ac.abort(), quietMs);
      }
    }
  } finally {
    clearTimeout(deadline);
    clearTimeout(quiet);
  }
  if (got.length < n) throw new Error(`received ${got.length} of ${n} payments in ${timeoutMs} ms`);
  return got;
}
