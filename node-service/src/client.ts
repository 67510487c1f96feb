// A small typed client for payment.v1.PaymentService. Other TypeScript code
// can import it; src/index.ts is the command-line front end.
//
//   const client = new PaymentClient({ address: "localhost:50051" });
//   for await (const { payment, cursor } of client.payments({ start: StartPosition.START_POSITION_EARLIEST })) {
//     console.log(payment.id, cursor);
//   }
//
// payments() survives server restarts: it reconnects with exponential backoff
// and resumes strictly after the last payment it yielded, so a consumer sees
// every payment once, in order, whatever happens to the connection.
import { setTimeout as delay } from "node:timers/promises";
import * as grpc from "@grpc/grpc-js";
import {
  type GetStatsResponse,
  type Payment,
  Gateway,
  PaymentServiceClient,
  type StreamPaymentsRequest,
  type StreamPaymentsResponse,
  StartPosition,
} from "./gen/payment";

export interface ClientOptions {
  // host:port of the server, e.g. "localhost:50051".
  address: string;
  // Use TLS; `ca` is a PEM file's contents to trust (default: system roots).
  tls?: boolean;
  ca?: Buffer;
  // Client certificate chain and private key (PEM) for a server that
  // requires one (mutual TLS, GRPC_TLS_CLIENT_CA); both or neither.
  cert?: Buffer;
  key?: Buffer;
  // Bearer token sent as `authorization: Bearer <token>` metadata on every call.
  token?: string;
  // Extra @grpc/grpc-js channel options; they override the defaults below.
  channelOptions?: grpc.ChannelOptions;
}

// Per-call options of the unary methods.
export interface CallOptions {
  // Deadline of the call, from now.
  timeoutMs?: number;
  // Aborting cancels the call (it rejects with CANCELLED).
  signal?: AbortSignal;
}

// How long to wait between reconnection attempts: attempt n waits a random
// time in [0, min(maxMs, initialMs * multiplier^n)) ("full jitter"), so that
// many clients cut off at once by a restarting server do not all come back
// in the same millisecond.
export interface Backoff {
  initialMs: number;
  maxMs: number;
  multiplier: number;
}

export const DEFAULT_BACKOFF: Readonly<Backoff> = Object.freeze({ initialMs: 250, maxMs: 10_000, multiplier: 2 });

// backoffCeiling is the upper bound of attempt n's delay (attempt 0 is the
// first retry): 250, 500, 1000, … up to 10000 ms with the defaults.
export function backoffCeiling(attempt: number, backoff: Partial<Backoff> = {}): number {
  const b = { ...DEFAULT_BACKOFF, ...backoff };
  const n = Math.max(0, Math.floor(attempt));
  return Math.min(b.maxMs, b.initialMs * b.multiplier ** n);
}

// backoffDelay is attempt n's delay in whole milliseconds: uniformly random in
// [0, backoffCeiling(n)). Pure given `random` (a function returning [0, 1)).
export function backoffDelay(attempt: number, backoff: Partial<Backoff> = {}, random: () => number = Math.random): number {
  const ceiling = backoffCeiling(attempt, backoff);
  const r = Math.min(Math.max(random(), 0), 1 - Number.EPSILON);
  return Math.floor(r * ceiling);
}

// Status codes after which payments() reconnects and resumes. Anything else
// (INVALID_ARGUMENT, UNAUTHENTICATED, PERMISSION_DENIED, OUT_OF_RANGE,
// NOT_FOUND, UNIMPLEMENTED, …) would fail again the same way: it ends the
// iteration with the error.
export const RETRYABLE_CODES: ReadonlySet<grpc.status> = new Set([
  grpc.status.UNAVAILABLE, // server restarting or unreachable
  grpc.status.RESOURCE_EXHAUSTED, // we fell behind the server's window: resume from our cursor
  grpc.status.INTERNAL,
  grpc.status.UNKNOWN,
  grpc.status.DEADLINE_EXCEEDED,
]);

export function isRetryable(err: unknown): boolean {
  return isServiceError(err) && RETRYABLE_CODES.has(err.code);
}

// One payment as payments() yields it, with the cursor that resumes right after it.
export interface PaymentEvent {
  payment: Payment;
  cursor: string;
}

export interface DisconnectInfo {
  // Why the stream ended; undefined when the server ended it without an error.
  error: grpc.ServiceError | Error | undefined;
  // Retries since the last payment received (0 for the first one).
  attempt: number;
  // How long payments() waits before trying again.
  delayMs: number;
  // Where the next stream will resume ("" when no payment came yet: the
  // request's own start position is used again).
  cursor: string;
}

export interface ReconnectInfo {
  // The cursor the new stream resumes after ("" if none yet).
  cursor: string;
  // Retries it took (1 for the first).
  attempt: number;
  // The error that ended the previous stream, if any.
  error: grpc.ServiceError | Error | undefined;
}

export interface PaymentsOptions {
  // Abort to end the iteration cleanly (the loop just ends, no error).
  signal?: AbortSignal;
  // Reconnect and resume after retryable errors and after the server ends
  // the stream (default true). false: behave like stream().
  resume?: boolean;
  backoff?: Partial<Backoff>;
  // How long one reconnection attempt waits for the channel (default: the backoff cap).
  connectTimeoutMs?: number;
  // Called when a stream ends and payments() is about to wait and retry.
  onDisconnect?: (info: DisconnectInfo) => void;
  // Called when a new stream has been accepted by the server (its response
  // headers arrived; the Go server sends them as soon as the stream is
  // open). A stream refused at once (RESOURCE_EXHAUSTED: too many streams,
  // say) ends without headers and is reported by onDisconnect only.
  onReconnect?: (info: ReconnectInfo) => void;
}

export class PaymentClient {
  private readonly client: PaymentServiceClient;
  private readonly metadata: grpc.Metadata;

  constructor(readonly options: ClientOptions) {
    const creds = options.tls || options.ca || options.cert
      ? grpc.credentials.createSsl(options.ca ?? null, options.key ?? null, options.cert ?? null)
      : grpc.credentials.createInsecure();
    this.client = new PaymentServiceClient(options.address, creds, {
      "grpc.keepalive_time_ms": 30_000,
      "grpc.keepalive_timeout_ms": 10_000,
      // The channel's own reconnection backoff (default: 1 s growing to
      // 120 s) would otherwise keep a restarted server unreachable long
      // after it is back; keep it in step with payments()' backoff.
      "grpc.initial_reconnect_backoff_ms": DEFAULT_BACKOFF.initialMs,
      "grpc.max_reconnect_backoff_ms": DEFAULT_BACKOFF.maxMs,
      ...options.channelOptions,
    });
    this.metadata = new grpc.Metadata();
    if (options.token) this.metadata.set("authorization", `Bearer ${options.token}`);
  }

  // waitForReady resolves once the channel is connected; it rejects after
  // timeoutMs, or when signal aborts.
  waitForReady(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(abortError(signal));
        return;
      }
      const onAbort = () => reject(abortError(signal));
      signal?.addEventListener("abort", onAbort, { once: true });
      this.client.waitForReady(Date.now() + timeoutMs, (err) => {
        signal?.removeEventListener("abort", onAbort);
        if (err) reject(err);
        else resolve();
      });
    });
  }

  // stream yields the server's responses as they come, on one call, with no
  // reconnection: an error ends it. Breaking out of the loop, or aborting
  // `signal`, cancels the call. Most code wants payments() instead.
  async *stream(
    request: Partial<StreamPaymentsRequest>,
    signal?: AbortSignal,
  ): AsyncGenerator<StreamPaymentsResponse> {
    if (signal?.aborted) return;
    const call = this.client.streamPayments(fullRequest(request), this.metadata);
    const cancel = () => call.cancel();
    signal?.addEventListener("abort", cancel);
    try {
      for await (const response of call as AsyncIterable<StreamPaymentsResponse>) {
        yield response;
      }
    } catch (err) {
      if (isStatus(err, grpc.status.CANCELLED) && (signal?.aborted ?? false)) return;
      throw err;
    } finally {
      signal?.removeEventListener("abort", cancel);
      call.cancel();
    }
  }

  // payments yields every payment that matches `request`, reconnecting with
  // exponential backoff and full jitter when the stream breaks (see
  // RETRYABLE_CODES) or the server ends it, and resuming strictly after the
  // last payment yielded (request.cursor = its cursor). The server's cursor
  // semantics make that exact: nothing is yielded twice, nothing is skipped.
  //
  // The only gap: with start LATEST (the default) and no payment received
  // yet, there is no cursor to resume from, so payments sent while the
  // connection was down are not replayed; pass a cursor, `since` or EARLIEST
  // when that matters.
  async *payments(
    request: Partial<StreamPaymentsRequest> = {},
    options: PaymentsOptions = {},
  ): AsyncGenerator<PaymentEvent, void, undefined> {
    const { signal, resume = true } = options;
    const backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    const connectTimeoutMs = options.connectTimeoutMs ?? backoff.maxMs;
    const base = fullRequest(request);
    let cursor = base.cursor;
    let attempt = 0; // retries since the last payment received
    let lastError: grpc.ServiceError | Error | undefined;
    let retrying = false;

    while (!signal?.aborted) {
      const reconnecting = retrying;
      if (retrying) {
        const delayMs = backoffDelay(attempt, backoff);
        options.onDisconnect?.({ error: lastError, attempt, delayMs, cursor });
        attempt++;
        if (!(await sleep(delayMs, signal))) return;
        try {
          await this.waitForReady(connectTimeoutMs, signal);
        } catch (err) {
          if (signal?.aborted) return;
          lastError = toError(err);
          continue; // still down: wait longer
        }
      }
      retrying = true;

      const call = this.client.streamPayments({ ...base, cursor }, this.metadata);
      if (reconnecting) {
        const info: ReconnectInfo = { cursor, attempt, error: lastError };
        call.once("metadata", () => options.onReconnect?.(info));
      }
      const cancel = () => call.cancel();
      signal?.addEventListener("abort", cancel);
      try {
        for await (const response of call as AsyncIterable<StreamPaymentsResponse>) {
          attempt = 0;
          lastError = undefined;
          if (response.cursor) cursor = response.cursor;
          if (response.payment) yield { payment: response.payment, cursor: response.cursor };
        }
        // The server ended the stream without an error.
        if (!resume) return;
        lastError = undefined;
      } catch (err) {
        if (signal?.aborted) return;
        if (!resume || !isRetryable(err)) throw err;
        lastError = toError(err);
      } finally {
        signal?.removeEventListener("abort", cancel);
        call.cancel();
      }
    }
  }

  // getPayment returns the latest state of one payment; it rejects with
  // NOT_FOUND (see isStatus) when the server does not know it.
  getPayment(gateway: Gateway, id: string, options: CallOptions = {}): Promise<Payment | undefined> {
    return new Promise((resolve, reject) => {
      const call = this.client.getPayment({ gateway, id }, this.metadata, callOptions(options), (err, res) =>
        err ? reject(err) : resolve(res?.payment),
      );
      cancelOnAbort(call, options.signal);
    });
  }

  getStats(options: CallOptions = {}): Promise<GetStatsResponse> {
    return new Promise((resolve, reject) => {
      const call = this.client.getStats({}, this.metadata, callOptions(options), (err, res) =>
        err ? reject(err) : resolve(res),
      );
      cancelOnAbort(call, options.signal);
    });
  }

  close(): void {
    this.client.close();
  }
}

// fullRequest fills in every field a partial request leaves out.
export function fullRequest(r: Partial<StreamPaymentsRequest>): StreamPaymentsRequest {
  return {
    gateways: r.gateways ?? [],
    currencies: r.currencies ?? [],
    statuses: r.statuses ?? [],
    start: r.start ?? StartPosition.START_POSITION_UNSPECIFIED,
    cursor: r.cursor ?? "",
    since: r.since,
  };
}

export function isServiceError(err: unknown): err is grpc.ServiceError {
  return typeof err === "object" && err !== null && "code" in err && typeof err.code === "number" && "details" in err;
}

export function isStatus(err: unknown, code: grpc.status): err is grpc.ServiceError {
  return isServiceError(err) && err.code === code;
}

// describeError: "NOT_FOUND: no GATEWAY_STRIPE payment with id …" for gRPC
// errors, the message for anything else.
export function describeError(err: unknown): string {
  if (isServiceError(err)) return `${grpc.status[err.code] ?? err.code}: ${err.details || err.message}`;
  return err instanceof Error ? err.message : String(err);
}

function callOptions(o: CallOptions): Partial<grpc.CallOptions> {
  return o.timeoutMs === undefined ? {} : { deadline: Date.now() + o.timeoutMs };
}

function cancelOnAbort(call: grpc.ClientUnaryCall, signal: AbortSignal | undefined): void {
  if (!signal) return;
  if (signal.aborted) {
    call.cancel();
    return;
  }
  const cancel = () => call.cancel();
  signal.addEventListener("abort", cancel, { once: true });
  call.on("status", () => signal.removeEventListener("abort", cancel));
}

// sleep resolves true after ms, or false as soon as signal aborts.
async function sleep(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  try {
    await delay(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

function abortError(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  return reason instanceof Error ? reason : new Error("aborted");
}

function toError(err: unknown): grpc.ServiceError | Error {
  return err instanceof Error ? err : new Error(String(err));
}
