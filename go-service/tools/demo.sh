#!/usr/bin/env bash
# make demo: the whole pipeline in one terminal. Builds the binaries, starts
# the server and the webhook receiver, connects the TypeScript client, sends
# DEMO_COUNT payments: all but two as signed webhooks of the five gateways
# through the receiver (producer --via), two malformed on purpose straight
# to Kafka; waits until every valid one has reached the client, prints a
# summary and stops everything it started. Kafka must be up (make
# kafka-up, which `make demo` runs first). Each run picks a new seed: a seed
# already sent makes the same gateway event ids, which the server rightly
# drops as duplicates.
set -euo pipefail

count=${DEMO_COUNT:-12}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=$repo/.local/demo
mkdir -p "$work"
: >"$work/server.log"; : >"$work/client.log"; : >"$work/producer.log"; : >"$work/receiver.log"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

say() { echo "[DEMO] $*"; }

say "Building the server, receiver and producer..."
(cd "$repo/go-service" && go build -o bin/ ./cmd/server ./cmd/receiver ./cmd/producer)

port=${GRPC_PORT:-50051}
receiver_port=${DEMO_RECEIVER_PORT:-8080}
for p in "$port" "$receiver_port"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    echo "[DEMO] error: port $p is in use (a server or receiver from \`make server\` / \`make receiver\` still running?): stop it or set GRPC_PORT / DEMO_RECEIVER_PORT" >&2
    exit 1
  fi
done

# Demo secrets, shared by the receiver and the producer (which signs as each
# gateway would). PayPal signs with a certificate: the producer makes a
# throwaway CA and certificate per run and serves it on loopback; the
# receiver trusts that CA only through its development settings.
export STRIPE_WEBHOOK_SECRET=whsec_demo RAZORPAY_WEBHOOK_SECRET=rzp_demo \
  SQUARE_WEBHOOK_SIGNATURE_KEY=sq_demo SQUARE_WEBHOOK_URL=http://127.0.0.1:$receiver_port/webhooks/square \
  ADYEN_HMAC_KEY=44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056 PAYPAL_WEBHOOK_ID=WH-DEMO \
  PAYPAL_DEV_CA_FILE="$work/paypal-dev-ca.pem" PAYPAL_DEV_CERT_HOST=127.0.0.1:${DEMO_PAYPAL_CERT_PORT:-9467}
# The dashboard (DASHBOARD_ADDR, default 127.0.0.1:8081) shows the same
# payments in a browser; a busy port turns it off rather than failing the demo.
dashboard=${DASHBOARD_ADDR-127.0.0.1:8081}
if [ -n "$dashboard" ] && (exec 3<>"/dev/tcp/${dashboard%:*}/${dashboard##*:}") 2>/dev/null; then
  say "port ${dashboard##*:} is in use: no dashboard this time (set DASHBOARD_ADDR to another host:port)"
  dashboard=
fi
(cd "$repo/go-service" && exec env GRPC_PORT="$port" DASHBOARD_ADDR="$dashboard" bin/server) > >(tee -a "$work/server.log") 2>&1 &
pids+=($!)
server_pid=$!

# Ready when every raw topic's consumer has its partitions and the serve
# stage has started reading.
for _ in $(seq 1 120); do
  topics=$(grep -c "Consuming from" "$work/server.log" || true)
  assigned=$(grep -c "Assigned" "$work/server.log" || true)
  if [ "$topics" -gt 0 ] && [ "$assigned" -ge "$topics" ] && grep -q "Serving from" "$work/server.log"; then break; fi
  kill -0 "$server_pid" 2>/dev/null || { say "the server exited: see above"; exit 1; }
  sleep 0.5
done

(cd "$repo/go-service" && exec env RECEIVER_ADDR="127.0.0.1:$receiver_port" RECEIVER_METRICS_ADDR=127.0.0.1:0 bin/receiver) > >(tee -a "$work/receiver.log") 2>&1 &
pids+=($!)
receiver_pid=$!
for _ in $(seq 1 60); do
  grep -q "Listening on" "$work/receiver.log" && break
  kill -0 "$receiver_pid" 2>/dev/null || { say "the receiver exited: see above"; exit 1; }
  sleep 0.5
done

url=$(sed -n 's/.*Dashboard on \(http[^ ]*\).*/\1/p' "$work/server.log" | head -1)
[ -z "$url" ] || say "Dashboard: $url (open it now: the payments below appear there too)"

(cd "$repo/node-service" && exec node --import tsx src/index.ts --server "127.0.0.1:$port") > >(tee -a "$work/client.log") 2>&1 &
pids+=($!)
client_pid=$!
for _ in $(seq 1 60); do grep -q "Connected to gRPC server" "$work/client.log" && break; sleep 0.5; done

malformed_count=2
via_count=$(( count > malformed_count ? count - malformed_count : 1 ))
"$repo/go-service/bin/producer" --via "http://127.0.0.1:$receiver_port" --count "$via_count" --rate 4 --seed "${DEMO_SEED:-0}" \
  --gateways stripe,razorpay,paypal,adyen,square | tee -a "$work/producer.log"
say "And $malformed_count malformed on purpose, straight to Kafka: they go to the dead-letter topic"
"$repo/go-service/bin/producer" --count "$malformed_count" --rate 4 --gateways stripe,razorpay --invalid-rate 1 \
  | tee -a "$work/producer.log"

sent_ids=$(sed -n 's/.*Sent: \([^ ]*\) | .*/\1/p' "$work/producer.log" | sort -u)
malformed=$(grep -c "malformed on purpose:" "$work/producer.log" || true)
sent=$(grep -c "Sent: " "$work/producer.log" || true)
want=$((sent - malformed))

received=0
for _ in $(seq 1 60); do
  received=$(grep -oE "\[LOG\] Payment: [^ ]+" "$work/client.log" | awk '{print $3}' | sort -u | grep -cxF "$sent_ids" || true)
  [ "$received" -ge "$want" ] && break
  sleep 0.5
done
dlq=$(grep -c "dead-lettered" "$work/server.log" || true)

# At a terminal, the dashboard stays up until Enter (at most DEMO_HOLD
# seconds, default 300); without one (CI) the demo ends at once.
if [ -n "$url" ] && [ -t 0 ]; then
  say "Dashboard still at $url: send more with \`make producer\` in another terminal; press Enter to stop"
  read -r -t "${DEMO_HOLD:-300}" _ || true
fi

kill -INT "$client_pid" 2>/dev/null || true
kill -TERM "$receiver_pid" 2>/dev/null || true
kill -TERM "$server_pid" 2>/dev/null || true
wait "$client_pid" 2>/dev/null || true
wait "$receiver_pid" 2>/dev/null || true
wait "$server_pid" 2>/dev/null || true
pids=()

lost=$((want - received))
say "Summary: sent $sent | received $received | DLQ $dlq | lost $lost"
[ "$lost" -eq 0 ] || { say "some payments did not arrive: logs in $work"; exit 1; }
