#!/usr/bin/env bash
# make demo: the whole pipeline in one terminal. Builds the binaries, starts
# the server, connects the TypeScript client, sends DEMO_COUNT payments (some
# malformed on purpose), waits until every valid one has reached the client,
# prints a summary and stops everything it started. Kafka must be up (make
# kafka-up, which `make demo` runs first). Each run picks a new seed: a seed
# already sent makes the same gateway event ids, which the server rightly
# drops as duplicates.
set -euo pipefail

count=${DEMO_COUNT:-12}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
work=$repo/.local/demo
mkdir -p "$work"
: >"$work/server.log"; : >"$work/client.log"; : >"$work/producer.log"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

say() { echo "[DEMO] $*"; }

say "Building the server and producer..."
(cd "$repo/go-service" && go build -o bin/ ./cmd/server ./cmd/producer)

port=${GRPC_PORT:-50051}
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
  echo "[DEMO] error: port $port is in use (a server from \`make server\` still running?): stop it or set GRPC_PORT" >&2
  exit 1
fi
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

url=$(sed -n 's/.*Dashboard on \(http[^ ]*\).*/\1/p' "$work/server.log" | head -1)
[ -z "$url" ] || say "Dashboard: $url (open it now: the payments below appear there too)"

(cd "$repo/node-service" && exec node --import tsx src/index.ts --server "127.0.0.1:$port") > >(tee -a "$work/client.log") 2>&1 &
pids+=($!)
client_pid=$!
for _ in $(seq 1 60); do grep -q "Connected to gRPC server" "$work/client.log" && break; sleep 0.5; done

"$repo/go-service/bin/producer" --count "$count" --rate 4 --seed "${DEMO_SEED:-0}" --gateways stripe,razorpay --invalid-rate 0.2 \
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
kill -TERM "$server_pid" 2>/dev/null || true
wait "$client_pid" 2>/dev/null || true
wait "$server_pid" 2>/dev/null || true
pids=()

lost=$((want - received))
say "Summary: sent $sent | received $received | DLQ $dlq | lost $lost"
[ "$lost" -eq 0 ] || { say "some payments did not arrive: logs in $work"; exit 1; }
