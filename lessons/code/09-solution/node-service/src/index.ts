// Prints every payment the server streams, one [LOG] line each, until Ctrl-C.
//
//   npx tsx src/index.ts [address]     (default 127.0.0.1:50051)
import { connect, formatPayment, streamPayments } from "./client";

async function main(): Promise<void> {
  const address = process.argv[2] ?? "127.0.0.1:50051";
  const client = connect(address);
  const stop = new AbortController();
  process.once("SIGINT", () => stop.abort());
  process.once("SIGTERM", () => stop.abort());

  console.log(`[CLIENT] streaming payments from ${address} (Ctrl-C to stop)`);
  let count = 0;
  for await (const payment of streamPayments(client, {}, stop.signal)) {
    count++;
    console.log(`[LOG] Payment: ${formatPayment(payment)}`);
  }
  console.log(`[CLIENT] ${count} payment(s)`);
  client.close();
}

main().catch((err: Error) => {
  console.error(`[CLIENT] ${err.message}`);
  process.exitCode = 1;
});
