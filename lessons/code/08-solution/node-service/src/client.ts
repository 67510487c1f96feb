// A small typed client for payment.v1.PaymentService.
import * as grpc from "@grpc/grpc-js";
import {
  gatewayToJSON,
  type Payment,
  PaymentServiceClient,
  paymentStatusToJSON,
  StreamPaymentsRequest,
} from "./gen/payment";

export function connect(address: string): PaymentServiceClient {
  return new PaymentServiceClient(address, grpc.credentials.createInsecure());
}

// streamPayments yields each payment as the server sends it, until the
// server ends the stream or `signal` aborts (then it returns quietly).
export async function* streamPayments(
  client: PaymentServiceClient,
  request: Partial<StreamPaymentsRequest> = {},
  signal?: AbortSignal,
): AsyncGenerator<Payment> {
  const call = client.streamPayments(StreamPaymentsRequest.fromPartial(request));
  const cancel = () => call.cancel();
  signal?.addEventListener("abort", cancel);
  try {
    for await (const response of call) {
      if (response.payment) yield response.payment;
    }
  } catch (err) {
    if (signal?.aborted && (err as grpc.ServiceError).code === grpc.status.CANCELLED) return;
    throw err;
  } finally {
    signal?.removeEventListener("abort", cancel);
    call.cancel();
  }
}

// Digits of the minor unit where it is not two (ISO 4217).
const MINOR_DIGITS: Record<string, number> = { JPY: 0, KRW: 0, KWD: 3, BHD: 3 };

// formatAmount writes minor units as an exact decimal: 1234n USD is
// "12.34 USD". bigint all the way: a Number would round large amounts.
export function formatAmount(amountMinor: bigint, currency: string): string {
  const digits = MINOR_DIGITS[currency] ?? 2;
  const sign = amountMinor < 0n ? "-" : "";
  const text = (amountMinor < 0n ? -amountMinor : amountMinor).toString().padStart(digits + 1, "0");
  if (digits === 0) return `${sign}${text} ${currency}`;
  return `${sign}${text.slice(0, -digits)}.${text.slice(-digits)} ${currency}`;
}

// formatPayment: "pi_1 STRIPE 12.34 USD COMPLETED".
export function formatPayment(p: Payment): string {
  const gateway = gatewayToJSON(p.gateway).replace(/^GATEWAY_/, "");
  const status = paymentStatusToJSON(p.status).replace(/^PAYMENT_STATUS_/, "");
  const amount = p.amount ? formatAmount(p.amount.amountMinor, p.amount.currency) : "(no amount)";
  return `${p.id} ${gateway} ${amount} ${status}`;
}
