#!/usr/bin/env bash
# Local Apache Kafka (KRaft, one node, 127.0.0.1:9092) from Maven Central jars,
# with a second listener, SASL_SSL with PLAIN users on 127.0.0.1:9094, the way
# Confluent Cloud is reached. Its certificate comes from a self-signed CA made
# at the first `up`: $KAFKA_HOME_DIR/tls/ca.pem is what clients trust
# (KAFKA_CA_FILE). The PLAIN users are in server.properties.
#
#   kafka.sh up      resolve jars (first time), format storage (first time), start, wait until ready
#   kafka.sh down    stop the broker started by `up` (by its PID)
#   kafka.sh status  say whether it runs
#   kafka.sh run CLASS ARGS...   run a Kafka tool class on the same classpath (bench, debugging)
#
# State lives in $KAFKA_HOME_DIR (default <repo>/.local/kafka, git-ignored):
# lib/ (jars), data/ (log dirs), logs/, tls/ (CA and broker certificate), kafka.pid.
# Ports: KAFKA_PORT (PLAINTEXT, default 9092), KAFKA_CONTROLLER_PORT (9093),
# KAFKA_SASL_PORT (SASL_SSL, 9094); set them, and KAFKA_HOME_DIR, to run a
# second broker beside the first.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
home=${KAFKA_HOME_DIR:-$repo/.local/kafka}
lib=$home/lib
data=$home/data
logs=$home/logs
pidfile=$home/kafka.pid
tls=$home/tls
port=${KAFKA_PORT:-9092}
controller_port=${KAFKA_CONTROLLER_PORT:-9093}
sasl_port=${KAFKA_SASL_PORT:-9094}

say() { echo "[KAFKA] $*"; }
die() { echo "[KAFKA] error: $*" >&2; exit 1; }

need() {
  command -v "$1" >/dev/null 2>&1 || die "$1 not found: install $2"
}

running_pid() {
  [ -f "$pidfile" ] || return 1
  local pid
  pid=$(cat "$pidfile")
  kill -0 "$pid" 2>/dev/null && echo "$pid"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

resolve_jars() {
  local stamp="$lib/.pom.sha256" want
  want=$(sha256sum "$here/pom.xml" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return; fi
  need mvn "Maven (apt-get install maven)"
  say "Resolving Kafka jars from Maven Central (first run only)..."
  rm -rf "$lib"
  mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$lib" -DincludeScope=runtime >"$home/maven.log" 2>&1 ||
    { tail -20 "$home/maven.log" >&2; die "Maven could not resolve the Kafka jars (log: $home/maven.log)"; }
  echo "$want" >"$stamp"
}

jvm_opts=(-Xms512m -Xmx1g -XX:+UseG1GC -Dkafka.logs.dir="$logs"
  -Dlog4j2.configurationFile="$here/log4j2.yaml" -cp "$lib/*")

java_cmd() { java "${jvm_opts[@]}" "$@"; }

config() {
  # The checked-in properties, with this machine's ports, data dir and certificate.
  sed -e "/^log.dirs=/d" -e "/^ssl.keystore.location=/d" \
    -e "s/127.0.0.1:9092/127.0.0.1:$port/g" \
    -e "s/127.0.0.1:9093/127.0.0.1:$controller_port/g" \
    -e "s/127.0.0.1:9094/127.0.0.1:$sasl_port/g" "$here/server.properties"
  echo "log.dirs=$data"
  echo "ssl.keystore.location=$tls/broker.pem"
}

make_certs() {
  # A CA of this machine's own and a broker certificate it signs, for
  # 127.0.0.1 and localhost. Made once; `reset` keeps them (clients may
  # have the CA configured).
  [ -f "$tls/ca.pem" ] && [ -f "$tls/broker.pem" ] && return
  need openssl "OpenSSL (apt-get install openssl)"
  mkdir -p "$tls"
  local tmp
  tmp=$(mktemp -d)
  {
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=payment-aggregator local Kafka CA" \
      -keyout "$tls/ca.key" -out "$tls/ca.pem" &&
      openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$tmp/broker.key" -out "$tmp/broker.csr" &&
      printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$tmp/ext" &&
      openssl x509 -req -in "$tmp/broker.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" -CAcreateserial \
        -days 825 -extfile "$tmp/ext" -out "$tmp/broker.crt" &&
      # Kafka's PEM key store: an unencrypted PKCS#8 key, then the chain.
      openssl pkcs8 -topk8 -nocrypt -in "$tmp/broker.key" -out "$tmp/broker.p8" &&
      cat "$tmp/broker.p8" "$tmp/broker.crt" "$tls/ca.pem" >"$tls/broker.pem"
  } >"$tmp/openssl.log" 2>&1 || { cat "$tmp/openssl.log" >&2; rm -rf "$tmp"; die "could not make the TLS certificates in $tls"; }
  chmod 600 "$tls/ca.key" "$tls/broker.pem"
  rm -rf "$tmp"
  say "Made a local CA ($tls/ca.pem) and the broker's certificate"
}

format_storage() {
  [ -f "$data/meta.properties" ] && return
  mkdir -p "$data"
  config >"$home/server.properties"
  local cluster_id
  cluster_id=$(java_cmd kafka.tools.StorageTool random-uuid)
  java_cmd kafka.tools.StorageTool format -t "$cluster_id" -c "$home/server.properties" >"$logs/format.log" 2>&1 ||
    { cat "$logs/format.log" >&2; die "could not format the storage in $data"; }
}

up() {
  need java "a Java 17+ runtime (apt-get install openjdk-17-jre-headless)"
  if pid=$(running_pid); then say "Already running (pid $pid) on 127.0.0.1:$port"; return; fi
  port_open && die "port $port is in use by another process: stop it, or it is a Kafka this script did not start"
  mkdir -p "$home" "$logs"
  resolve_jars
  make_certs
  format_storage
  config >"$home/server.properties"
  say "Starting Kafka on 127.0.0.1:$port, SASL_SSL on 127.0.0.1:$sasl_port (logs: $logs/server.log)..."
  # Its own session, so that Ctrl-C in the terminal that started it doesn't stop it.
  setsid nohup java "${jvm_opts[@]}" kafka.Kafka "$home/server.properties" >"$logs/stdout.log" 2>&1 &
  echo $! >"$pidfile"
  wait_ready
}

wait_ready() {
  local pid deadline=$((SECONDS + ${KAFKA_START_TIMEOUT:-90}))
  pid=$(cat "$pidfile")
  until grep -qs "Kafka Server started" "$logs/server.log" && port_open; do
    kill -0 "$pid" 2>/dev/null || { tail -30 "$logs/stdout.log" "$logs/server.log" >&2 || true; rm -f "$pidfile"; die "Kafka exited during start-up"; }
    [ $SECONDS -lt $deadline ] || die "Kafka did not become ready in ${KAFKA_START_TIMEOUT:-90}s (logs: $logs)"
    sleep 0.5
  done
  say "Ready on 127.0.0.1:$port, SASL_SSL on 127.0.0.1:$sasl_port with CA $tls/ca.pem (pid $pid)"
}

down() {
  local pid
  if ! pid=$(running_pid); then say "Not running"; rm -f "$pidfile"; return; fi
  say "Stopping Kafka (pid $pid)..."
  kill -TERM "$pid"
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then say "Still running after 30s, killing"; kill -KILL "$pid"; fi
  rm -f "$pidfile"
  say "Stopped"
}

status() {
  if pid=$(running_pid); then say "Running (pid $pid) on 127.0.0.1:$port"; else say "Not running"; return 1; fi
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  reset) down; rm -rf "$data" "$logs"; say "Data removed" ;;
  run) shift; resolve_jars; java_cmd "$@" ;;
  *) echo "usage: $0 up|down|status|reset|run CLASS ARGS..." >&2; exit 2 ;;
esac
