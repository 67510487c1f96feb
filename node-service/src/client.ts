// A small typed client for payment.v1.PaymentService. Other TypeScript code
// can import it; src/index.ts is the command-line front end.
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
  // Bearer token sent as `authorization` metadata.
  token?: string;
}

export class PaymentClient {
  private readonly client: PaymentServiceClient;
  private readonly metadata: grpc.Metadata;

  constructor(private readonly options: ClientOptions) {
    const creds = options.tls
      ? grpc.credentials.createSsl(options.ca ?? null)
      : grpc.credentials.createInsecure();
    this.client = new PaymentServiceClient(options.address, creds, {
      "grpc.keepalive_time_ms": 30_000,
      "grpc.keepalive_timeout_ms": 10_000,
    });
    this.metadata = new grpc.Metadata();
    if (options.token) this.metadata.set("authorization", `Bearer ${options.token}`);
  }

  // waitForReady resolves once the channel is connected.
  waitForReady(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.client.waitForReady(Date.now() + timeoutMs, (err) => (err ? reject(err) : resolve()));
    });
  }

  // stream yields payments as the server sends them. Breaking out of the
  // loop, or aborting `signal`, cancels the call.
  async *stream(
    request: Partial<StreamPaymentsRequest>,
    signal?: AbortSignal,
  ): AsyncGenerator<StreamPaymentsResponse> {
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

  getPayment(gateway: Gateway, id: string): Promise<Payment | undefined> {
    return new Promise((resolve, reject) => {
      this.client.getPayment({ gateway, id }, this.metadata, (err, res) =>
        err ? reject(err) : resolve(res?.payment),
      );
    });
  }

  getStats(): Promise<GetStatsResponse> {
    return new Promise((resolve, reject) => {
      this.client.getStats({}, this.metadata, (err, res) => (err ? reject(err) : resolve(res)));
    });
  }

  close(): void {
    this.client.close();
  }
}

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

export function isStatus(err: unknown, code: grpc.status): err is grpc.ServiceError {
  return typeof err === "object" && err !== null && "code" in err && (err as grpc.ServiceError).code === code;
}
