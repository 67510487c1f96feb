// An in-process PaymentService on 127.0.0.1 whose behavior each test
// scripts: it exercises the client's reconnection logic deterministically
// (which error, when). The real server and Kafka are in integration.test.ts.
import * as grpc from "@grpc/grpc-js";
import {
  Gateway,
  type GetPaymentRequest,
  type GetPaymentResponse,
  type GetStatsResponse,
  type Payment,
  PaymentServiceService,
  PaymentStatus,
  type StreamPaymentsRequest,
  type StreamPaymentsResponse,
} from "../src/gen/payment";

export type StreamCall = grpc.ServerWritableStream<StreamPaymentsRequest, StreamPaymentsResponse>;

export interface Handlers {
  // n counts StreamPayments calls from 0.
  stream?: (call: StreamCall, n: number) => void | Promise<void>;
  getPayment?: (req: GetPaymentRequest) => GetPaymentResponse | grpc.ServiceError;
  // "hang": never answer (for deadlines and cancellation).
  getStats?: () => GetStatsResponse | "hang";
}

export interface FakeServer {
  address: string;
  port: number;
  requests: StreamPaymentsRequest[];
  metadata: grpc.Metadata[];
  stop(): Promise<void>;
}

export async function startFake(handlers: Handlers, port = 0, credentials = grpc.ServerCredentials.createInsecure()): Promise<FakeServer> {
  const server = new grpc.Server();
  const requests: StreamPaymentsRequest[] = [];
  const metadata: grpc.Metadata[] = [];
  server.addService(PaymentServiceService, {
    streamPayments: (call: StreamCall) => {
      requests.push(call.request);
      metadata.push(call.metadata);
      const n = requests.length - 1;
      Promise.resolve(handlers.stream?.(call, n)).catch((err: unknown) => call.destroy(err instanceof Error ? err : new Error(String(err))));
    },
    getPayment: (call: grpc.ServerUnaryCall<GetPaymentRequest, GetPaymentResponse>, cb: grpc.sendUnaryData<GetPaymentResponse>) => {
      metadata.push(call.metadata);
      const res = handlers.getPayment?.(call.request) ?? serviceError(grpc.status.UNIMPLEMENTED, "no handler");
      if ("code" in res) cb(res);
      else cb(null, res);
    },
    getStats: (call: grpc.ServerUnaryCall<unknown, GetStatsResponse>, cb: grpc.sendUnaryData<GetStatsResponse>) => {
      metadata.push(call.metadata);
      const res = handlers.getStats?.();
      if (res === "hang") return;
      if (res) cb(null, res);
      else cb(serviceError(grpc.status.UNIMPLEMENTED, "no handler"));
    },
  });
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, credentials, (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    address: `127.0.0.1:${bound}`,
    port: bound,
    requests,
    metadata,
    stop: () =>
      new Promise<void>((resolve) => {
        server.forceShutdown();
        resolve();
      }),
  };
}

export function serviceError(code: grpc.status, details: string): grpc.ServiceError {
  return Object.assign(new Error(`${code} ${grpc.status[code]}: ${details}`), { code, details, metadata: new grpc.Metadata() });
}

// A numbered list of payments whose cursors are "k<i>": resuming from "k<i>"
// continues with payment i+1, like the real server's cursors.
export function payments(n: number): Payment[] {
  return Array.from({ length: n }, (_, i) => payment(`pay_${i}`, i % 2 === 0 ? Gateway.GATEWAY_STRIPE : Gateway.GATEWAY_RAZORPAY));
}

export function payment(id: string, gateway = Gateway.GATEWAY_STRIPE, status = PaymentStatus.PAYMENT_STATUS_COMPLETED): Payment {
  return {
    id,
    gateway,
    amount: { amountMinor: 5000n, currency: gateway === Gateway.GATEWAY_RAZORPAY ? "INR" : "USD" },
    status,
    customerEmail: "",
    method: "card",
    failureReason: "",
    eventId: `evt_${id}`,
    metadata: {},
    createdAt: undefined,
    updatedAt: undefined,
    refunded: undefined,
    source: undefined,
  };
}

export function startIndex(req: StreamPaymentsRequest): number {
  return req.cursor ? Number(req.cursor.slice(1)) + 1 : 0;
}

// send writes payments [from, to) with their cursors.
export function send(call: StreamCall, list: Payment[], from: number, to: number): void {
  for (let i = from; i < Math.min(to, list.length); i++) {
    const p = list[i];
    if (p) call.write({ payment: p, cursor: `k${i}` });
  }
}

// fail ends a stream with a status, as a Go server's `return status.Error(…)` does.
export function fail(call: StreamCall, code: grpc.status, details: string): void {
  call.emit("error", { code, details, metadata: new grpc.Metadata() });
}
