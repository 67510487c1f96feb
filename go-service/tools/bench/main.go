// Command bench measures the pipeline on a real Kafka (`make bench`):
//
//  1. the raw Kafka ceiling (Kafka's own ProducerPerformance / ConsumerPerformance),
//  2. our producer's records/s, as a share of that ceiling, and verified
//     webhooks/s through cmd/receiver (and its request → 200 latency),
//  3. ingest: raw → normalized + DLQ records/s and CPU per million payments,
//     with one consumer per topic and with one shared consumer,
//  4. end-to-end latency, producer send → Go stream client receive,
//  5. fan-out to 1, 10 and 100 concurrent stream clients,
//  6. topic scaling: OS threads, memory, idle CPU and start-up time of one
//     server with 1…500 raw topics, per-topic vs shared consumer,
//  7. recovery: restart after kill -9 to ingest resumed,
//  8. state: RSS after 1M and 2M payments, restart and a fresh instance to
//     SERVING (its rebuild rate against ConsumerPerformance), and 50 stalled
//     EARLIEST streams (see stageState),
//
// plus the normalizers' Go benchmarks. Every figure is the median of -runs
// runs; a ratio is computed within each run, then its median taken. It prints
// a table and writes JSON and Markdown to -out. -smoke runs the same stages
// with tiny sizes in seconds and exits non-zero if a stage gave no number.
//
// Everything it creates in Kafka is named bench-<run id>.… and deleted at the end.
//
// `bench profile` writes a CPU profile (runtime/pprof) of the server's stages
// under load, run in-process with the server's own wiring (internal/app).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/paymentgateway/aggregator/go-service/internal/config"
	"github.com/paymentgateway/aggregator/go-service/internal/kafka"
	"github.com/paymentgateway/aggregator/go-service/internal/kafkatest"
	"github.com/paymentgateway/aggregator/go-service/internal/logging"
)

// params are the sizes of one bench run.
type params struct {
	Smoke          bool    `json:"smoke"`
	Runs           int     `json:"runs"`
	WarmupRecords  int     `json:"warmup_records"`   // before any Kafka stage
	PerfRecords    int     `json:"perf_records"`     // stage 1
	ProducerCount  int     `json:"producer_records"` // stage 2
	IngestRecords  int     `json:"ingest_records"`   // stage 3
	InvalidRate    float64 `json:"invalid_rate"`     // stage 3: share that goes to the DLQ
	LatencyRates   []int   `json:"latency_rates"`    // stage 4, records/s
	LatencySeconds float64 `json:"latency_seconds"`
	FanoutClients  []int   `json:"fanout_clients"` // stage 5
	FanoutRecords  int     `json:"fanout_records"`
	ScalingTopics  []int   `json:"scaling_topics"` // stage 6
	ScalingRuns    int     `json:"scaling_runs"`
	IdleSeconds    float64 `json:"idle_seconds"`
	RecoveryRuns   int     `json:"recovery_runs"` // recovery stage: kill -9, restart
	NormBenchtime  string  `json:"normalizer_benchtime"`
	// receiver stage: webhooks sent as fast as it answers (by
	// ReceiverClients at once), then at ReceiverRate/s for LatencySeconds.
	ReceiverRecords int `json:"receiver_records"`
	ReceiverClients int `json:"receiver_clients"`
	ReceiverRate    int `json:"receiver_rate"`
	// state stage: RSS after each count of distinct payments, restarts,
	// StateStalled streams from EARLIEST that never read beside a live
	// client fed at StateLiveRate/s (its rate over StateLiveSeconds before
	// them), for at most StateStallSeconds. StateWindow > 0 sets the
	// server's STREAM_WINDOW (smoke: so that tiny sizes reach the catch-up
	// readers); 0 keeps its default.
	StatePayments     []int   `json:"state_payments"`
	StateStalled      int     `json:"state_stalled_streams"`
	StateLiveRate     int     `json:"state_live_rate"`
	StateLiveSeconds  float64 `json:"state_live_seconds"`
	StateStallSeconds float64 `json:"state_stall_seconds"`
	StateWindow       int     `json:"state_window,omitempty"`
}

func fullParams() params {
	return params{Runs: 3, WarmupRecords: 600000, PerfRecords: 150000, ProducerCount: 60000, IngestRecords: 60000, InvalidRate: 0.01,
		LatencyRates: []int{1000, 5000}, LatencySeconds: 10, FanoutClients: []int{1, 10, 100}, FanoutRecords: 20000,
		ScalingTopics: []int{1, 10, 50, 100, 500}, ScalingRuns: 2, IdleSeconds: 5, RecoveryRuns: 3, NormBenchtime: "300ms",
		ReceiverRecords: 20000, ReceiverClients: 32, ReceiverRate: 1000,
		StatePayments: []int{1000000, 2000000}, StateStalled: 50, StateLiveRate: 1000, StateLiveSeconds: 10, StateStallSeconds: 60}
}

func smokeParams() params {
	return params{Smoke: true, Runs: 1, PerfRecords: 2000, ProducerCount: 2000, IngestRecords: 5000, InvalidRate: 0.02,
		LatencyRates: []int{100, 500}, LatencySeconds: 1, FanoutClients: []int{1, 10}, FanoutRecords: 200,
		ScalingTopics: []int{1, 5}, ScalingRuns: 1, IdleSeconds: 1, RecoveryRuns: 3, NormBenchtime: "50x",
		ReceiverRecords: 300, ReceiverClients: 8, ReceiverRate: 100,
		StatePayments: []int{2000, 4000}, StateStalled: 50, StateLiveRate: 100, StateLiveSeconds: 2, StateStallSeconds: 15, StateWindow: 500}
}

type options struct {
	params
	out       string
	binDir    string
	kafkaSh   string
	bootstrap string
	stages    map[string]bool
	keep      bool
}

var allStages = []string{"normalizer", "ceiling", "producer", "receiver", "ingest", "latency", "fanout", "scaling", "recovery", "state"}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "clients" {
		if err := clientsMain(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "bench clients:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "profile" {
		if err := profileMain(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "bench profile:", err)
			os.Exit(1)
		}
		return
	}
	os.Exit(benchMain(os.Args[1:]))
}

func benchMain(args []string) int {
	// The sender's event loop and the offsets consumer: the instrument must
	// not add scheduling delay of its own to what it measures.
	kafka.SpareProcs(2)
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	smoke := fs.Bool("smoke", false, "tiny sizes, one run: checks that every stage still produces a number")
	runs := fs.Int("runs", 0, "runs per figure (default 3, smoke 1)")
	out := fs.String("out", "../bench/results", "directory for the JSON and Markdown results")
	binDir := fs.String("bin", "bin", "directory holding the server and producer binaries")
	kafkaSh := fs.String("kafka-sh", "tools/kafka/kafka.sh", "the local Kafka script (its `run` runs Kafka's tool classes)")
	stages := fs.String("stages", strings.Join(allStages, ","), "stages to run, comma-separated: "+strings.Join(allStages, ","))
	scaling := fs.String("scaling-topics", "", "raw topic counts for the scaling stage (default 1,10,50,100,500)")
	rates := fs.String("latency-rates", "", "offered rates of the latency stage, records/s, e.g. 1000,5000")
	latSecs := fs.Float64("latency-seconds", 0, "seconds per latency run")
	statePayments := fs.String("state-payments", "", "payment counts after which the state stage reads the server's RSS, ascending, e.g. 1000000,2000000")
	keep := fs.Bool("keep-topics", false, "keep the bench-* topics instead of deleting them at the end")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	p := fullParams()
	if *smoke {
		p = smokeParams()
	}
	if *runs > 0 {
		p.Runs = *runs
		p.ScalingRuns = min(p.ScalingRuns, *runs)
	}
	if *scaling != "" {
		p.ScalingTopics = nil
		for _, s := range config.SplitList(*scaling) {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > 2000 {
				fmt.Fprintf(os.Stderr, "-scaling-topics: %q is not a count from 1 to 2000\n", s)
				return 2
			}
			p.ScalingTopics = append(p.ScalingTopics, n)
		}
	}
	if *rates != "" {
		p.LatencyRates = nil
		for _, s := range config.SplitList(*rates) {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > 100000 {
				fmt.Fprintf(os.Stderr, "-latency-rates: %q is not a rate from 1 to 100000\n", s)
				return 2
			}
			p.LatencyRates = append(p.LatencyRates, n)
		}
	}
	if *statePayments != "" {
		p.StatePayments = nil
		for _, s := range config.SplitList(*statePayments) {
			n, err := strconv.Atoi(s)
			if err != nil || n < 1 || n > 10000000 || (len(p.StatePayments) > 0 && n <= p.StatePayments[len(p.StatePayments)-1]) {
				fmt.Fprintf(os.Stderr, "-state-payments: %q is not a count from 1 to 10000000 above the one before\n", s)
				return 2
			}
			p.StatePayments = append(p.StatePayments, n)
		}
	}
	if *latSecs > 0 {
		p.LatencySeconds = min(*latSecs, 60)
	}
	o := options{params: p, out: *out, binDir: *binDir, kafkaSh: *kafkaSh, bootstrap: envOr("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"), stages: map[string]bool{}, keep: *keep}
	for _, s := range config.SplitList(*stages) {
		if !contains(allStages, s) {
			fmt.Fprintf(os.Stderr, "-stages: unknown stage %q (want %s)\n", s, strings.Join(allStages, ","))
			return 2
		}
		o.stages[s] = true
	}
	_ = logging.Setup("text", io.Discard)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b, err := newBench(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	code := b.run(ctx)
	b.cleanup()
	return code
}

// bench is one invocation: its Kafka names, results and what to clean up.
type bench struct {
	o       options
	id      string
	kafka   config.Kafka
	res     *results
	topics  []string // created, to delete at the end
	dirs    []string // state stores of the servers, to delete at the end
	procs   *procSet
	serverM serverMode
	ceil    ceilings // stage 1's figures, for the ratios of later stages
	started time.Time
}

func newBench(o options) (*bench, error) {
	for _, bin := range []string{"server", "producer"} {
		if _, err := os.Stat(filepath.Join(o.binDir, bin)); err != nil {
			return nil, fmt.Errorf("%s not built in %s (make bench builds it): %w", bin, o.binDir, err)
		}
	}
	b := &bench{
		o:       o,
		id:      fmt.Sprintf("bench-%d", time.Now().Unix()%1e6),
		kafka:   config.Kafka{BootstrapServers: o.bootstrap, Partitions: 3, ReplicationFactor: -1},
		procs:   newProcSet(),
		started: time.Now(),
	}
	if err := kafkatest.Reachable(o.bootstrap); err != nil {
		return nil, err
	}
	b.res = newResults(o.params, machineInfo(o.kafkaSh), b.id)
	b.serverM = detectServerMode(filepath.Join(o.binDir, "server"))
	b.res.Server = b.serverM.describe()
	return b, nil
}

func (b *bench) run(ctx context.Context) int {
	say("run %s: %d run(s) per figure%s; server: %s", b.id, b.o.Runs, map[bool]string{true: " (smoke)", false: ""}[b.o.Smoke], b.serverM.describe())
	b.res.Machine.LoadStart = loadAvg()
	stages := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"normalizer", b.stageNormalizer},
		{"ceiling", b.stageCeiling},
		{"producer", b.stageProducer},
		{"receiver", b.stageReceiver},
		{"ingest", b.stageIngest},
		{"latency", b.stageLiveServer}, // latency and fan-out share one server
		{"scaling", b.stageScaling},
		{"recovery", b.stageRecovery},
		{"state", b.stageState},
	}
	var failed []string
	if b.o.WarmupRecords > 0 && b.kafkaStages() {
		began := time.Now()
		say("── warm-up")
		if err := b.warmUp(ctx); err != nil {
			say("warm-up failed: %v", err)
		}
		say("   warm-up took %.0fs", time.Since(began).Seconds())
	}
	for _, s := range stages {
		run := b.o.stages[s.name] || (s.name == "latency" && b.o.stages["fanout"])
		if !run {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		began := time.Now()
		label := s.name
		if s.name == "latency" {
			label = "latency + fan-out (one live server)"
		}
		say("── %s", label)
		if err := s.fn(ctx); err != nil {
			failed = append(failed, s.name)
			b.res.Errors = append(b.res.Errors, fmt.Sprintf("%s: %v", s.name, err))
			say("%s failed: %v", s.name, err)
		}
		say("   %s took %.0fs", label, time.Since(began).Seconds())
	}
	b.res.Machine.LoadEnd = loadAvg()
	b.res.DurationSeconds = time.Since(b.started).Seconds()

	for _, want := range b.expectedStages() {
		if !b.res.hasStage(want) && !contains(failed, want) {
			failed = append(failed, want)
			b.res.Errors = append(b.res.Errors, want+": produced no number")
		}
	}
	fmt.Println()
	fmt.Print(b.res.text())
	paths, err := b.res.write(b.o.out)
	if err != nil {
		say("writing results: %v", err)
		return 1
	}
	say("results: %s", strings.Join(paths, ", "))
	if ctx.Err() != nil {
		say("interrupted")
		return 130
	}
	if len(b.res.Errors) > 0 {
		say("FAILED: %s", strings.Join(b.res.Errors, "; "))
		return 1
	}
	return 0
}

// expectedStages are the result stages the selected stages must fill.
func (b *bench) expectedStages() []string {
	var out []string
	for _, s := range allStages {
		if b.o.stages[s] {
			out = append(out, s)
		}
	}
	return out
}

func (b *bench) cleanup() {
	b.procs.stopAll()
	for _, d := range b.dirs {
		os.RemoveAll(d)
	}
	if b.o.keep || len(b.topics) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := kafka.DeleteTopics(ctx, b.kafka, b.topics); err != nil {
		say("deleting %d bench topic(s): %v", len(b.topics), err)
	}
}

// name returns a Kafka name of this run.
func (b *bench) name(parts ...string) string {
	return b.id + "." + strings.Join(parts, ".")
}

func say(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[BENCH] "+format+"\n", args...)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

var errTimeout = errors.New("timed out")

// warn records a failed run; the figure is then the median of the others.
func (b *bench) warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	b.res.Warnings = append(b.res.Warnings, msg)
	say("   WARNING %s", msg)
}
