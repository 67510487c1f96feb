// The page's client of payment.v1.PaymentService: Connect protocol, binary
// protobuf, through the server's dashboard port (vanguard turns each call
// into a call on the same grpc-go server the CLI talks to). The token, when
// the server wants one, is typed by the user and kept in this tab's
// sessionStorage; it is never part of the served page.
import { type Client, Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { PaymentService } from "../gen/payment_pb";

const TOKEN_KEY = "payments.token";

export function savedToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function saveToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
}

const bearer: Interceptor = (next) => async (req) => {
  const token = savedToken();
  if (token) req.header.set("Authorization", `Bearer ${token}`);
  return next(req);
};

export type PaymentClient = Client<typeof PaymentService>;

export function newClient(baseUrl: string): PaymentClient {
  const transport = createConnectTransport({ baseUrl, useBinaryFormat: true, interceptors: [bearer] });
  return createClient(PaymentService, transport);
}

export function isUnauthenticated(err: unknown): boolean {
  return ConnectError.from(err).code === Code.Unauthenticated;
}

export function isAbort(err: unknown): boolean {
  return ConnectError.from(err).code === Code.Canceled;
}

export function describe(err: unknown): string {
  const e = ConnectError.from(err);
  return `${Code[e.code] ?? e.code}: ${e.rawMessage}`;
}
