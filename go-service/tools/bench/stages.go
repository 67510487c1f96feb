package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/paymentgateway/aggregator/go-service/internal/ingest"
	"github.com/paymentgateway/aggregator/go-service/internal/kafka"
)

// ceilings are the raw Kafka figures of each run, for the ratios of later
// stages (a ratio is always taken within one run).
type ceilings struct {
	producer []float64
	consumer []float64
}

func (c ceilings) at(list []float64, run int) float64 {
	if run < len(list) {
		return list[run]
	}
	return math.NaN()
}

// ── normalizers ─────────────────────────────────────────────────────────

var benchLine = regexp.MustCompile(`^BenchmarkNormalizeSynthetic/(\w+)-\d+\s+\d+\s+(.*)$`)

func (b *bench) stageNormalizer(ctx context.Context) error {
	cmd := exec.CommandContext(ctx, "go", "test", "./internal/normalizer", "-run", "^$",
		"-bench", "BenchmarkNormalizeSynthetic", "-benchmem", "-benchtime", b.o.NormBenchtime, "-count", strconv.Itoa(b.o.Runs))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go test -bench: %v\n%s", err, out)
	}
	type figures struct{ ns, bytes, allocs []float64 }
	per := map[string]*figures{}
	var order []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		gw := m[1]
		if per[gw] == nil {
			per[gw] = &figures{}
			order = append(order, gw)
		}
		f := strings.Fields(m[2])
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch f[i+1] {
			case "ns/op":
				per[gw].ns = append(per[gw].ns, v)
			case "B/op":
				per[gw].bytes = append(per[gw].bytes, v)
			case "allocs/op":
				per[gw].allocs = append(per[gw].allocs, v)
			}
		}
	}
	if len(order) == 0 {
		return fmt.Errorf("no benchmark lines in:\n%s", out)
	}
	for _, gw := range order {
		f := per[gw]
		us := make([]float64, len(f.ns))
		perSec := make([]float64, len(f.ns))
		for i, ns := range f.ns {
			us[i], perSec[i] = ns/1000, 1e9/ns
		}
		b.res.addPivot("normalizer", gw, "µs/record", "µs", us)
		b.res.addPivot("normalizer", gw, "records/s (1 core)", "records/s", perSec)
		b.res.addPivot("normalizer", gw, "B/record", "B", f.bytes)
		b.res.addPivot("normalizer", gw, "allocs/record", "allocs", f.allocs)
	}
	return nil
}

// ── warm-up ─────────────────────────────────────────────────────────────

// kafkaStages reports whether a selected stage uses the broker.
func (b *bench) kafkaStages() bool {
	for s := range b.o.stages {
		if s != "normalizer" {
			return true
		}
	}
	return false
}

// warmUp runs Kafka's own producer and consumer tools through the broker
// first. A broker's JIT compiles its hot paths over its first minutes under
// load: a broker started a minute before spent far more CPU per request than
// a warm one, which made the first stage measure the JVM.
func (b *bench) warmUp(ctx context.Context) error {
	topic := b.name("warmup")
	if err := b.createTopics(ctx, 3, topic); err != nil {
		return err
	}
	if _, err := b.producerPerf(ctx, topic, b.o.WarmupRecords, 550); err != nil {
		return err
	}
	_, err := b.consumerPerf(ctx, topic, b.o.WarmupRecords, b.name("warmup"))
	return err
}

// producerPerf runs Kafka's ProducerPerformance as fast as it goes, with
// our producer's settings, and returns what it printed.
func (b *bench) producerPerf(ctx context.Context, topic string, records, size int) (string, error) {
	return b.kafkaTool(ctx, "org.apache.kafka.tools.ProducerPerformance",
		"--topic", topic, "--num-records", strconv.Itoa(records), "--record-size", strconv.Itoa(size), "--throughput", "-1",
		"--producer-props", "bootstrap.servers="+b.kafka.BootstrapServers, "acks=all", "enable.idempotence=true", fmt.Sprint("linger.ms=", kafka.ProducerDefaults["linger.ms"]), "compression.type=lz4")
}

// consumerPerf runs Kafka's ConsumerPerformance over records of topic in a
// group of its own, and returns what it printed.
func (b *bench) consumerPerf(ctx context.Context, topic string, records int, group string) (string, error) {
	return b.kafkaTool(ctx, "org.apache.kafka.tools.ConsumerPerformance",
		"--bootstrap-server", b.kafka.BootstrapServers, "--topic", topic, "--messages", strconv.Itoa(records),
		"--group", group, "--timeout", "60000")
}

// ── 1. raw ceiling ──────────────────────────────────────────────────────

var (
	perfProducerLine = regexp.MustCompile(`(\d+) records sent, ([\d.]+) records/sec`)
)

// recordSize is the median size of our producer's records (all five
// gateways, the producer's default simple mix).
func recordSize() (int, error) {
	recs, err := generate(99, 5000, 0)
	if err != nil {
		return 0, err
	}
	sizes := make([]float64, len(recs))
	for i, r := range recs {
		sizes[i] = float64(len(r.Value))
	}
	return int(median(sizes)), nil
}

func (b *bench) kafkaTool(ctx context.Context, class string, args ...string) (string, error) {
	cctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(cctx, b.o.kafkaSh, append([]string{"run", class}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %v\n%s", class, err, lastLines(string(out), 15))
	}
	return string(out), nil
}

func (b *bench) stageCeiling(ctx context.Context) error {
	size, err := recordSize()
	if err != nil {
		return err
	}
	topic := b.name("perf")
	if err := b.createTopics(ctx, 3, topic); err != nil {
		return err
	}
	b.ceil = ceilings{}
	var prod, cons []float64
	for run := range b.o.Runs {
		out, err := b.producerPerf(ctx, topic, b.o.PerfRecords, size)
		if err != nil {
			return err
		}
		m := perfProducerLine.FindAllStringSubmatch(out, -1)
		if m == nil {
			return fmt.Errorf("ProducerPerformance printed no result:\n%s", lastLines(out, 15))
		}
		rate, _ := strconv.ParseFloat(m[len(m)-1][2], 64)
		prod = append(prod, rate)

		out, err = b.consumerPerf(ctx, topic, b.o.PerfRecords, b.name("consumer-perf", strconv.Itoa(run)))
		if err != nil {
			return err
		}
		rate, err = consumerPerfRate(out)
		if err != nil {
			return err
		}
		cons = append(cons, rate)
		say("   run %d: ProducerPerformance %.0f records/s, ConsumerPerformance %.0f records/s", run+1, prod[run], cons[run])
	}
	b.ceil = ceilings{producer: prod, consumer: cons}
	note := fmt.Sprintf("%d records of %d B (our median), acks=all, idempotent, linger %v ms, lz4", b.o.PerfRecords, size, kafka.ProducerDefaults["linger.ms"])
	b.res.add("ceiling", "Kafka ProducerPerformance", "records/s", prod, note)
	b.res.add("ceiling", "Kafka ConsumerPerformance (fetch.nMsg.sec)", "records/s", cons, "")
	return nil
}

// consumerPerfRate reads fetch.nMsg.sec: records/s while fetching, without
// the group join.
func consumerPerfRate(out string) (float64, error) {
	lines := strings.Split(out, "\n")
	for i, line := range lines {
		if !strings.HasPrefix(strings.TrimSpace(line), "start.time") || i+1 >= len(lines) {
			continue
		}
		head := strings.Split(line, ",")
		vals := strings.Split(lines[i+1], ",")
		for j, h := range head {
			if strings.TrimSpace(h) == "fetch.nMsg.sec" && j < len(vals) {
				return strconv.ParseFloat(strings.TrimSpace(vals[j]), 64)
			}
		}
	}
	return 0, fmt.Errorf("ConsumerPerformance printed no result:\n%s", lastLines(out, 15))
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// ── 2. our producer ─────────────────────────────────────────────────────

var producerDone = regexp.MustCompile(`Done: (\d+) sent .* in ([\d.]+)s \((\d+)/s\)`)

func (b *bench) stageProducer(ctx context.Context) error {
	topic := b.name("producer")
	b.own(topic)
	var rates, ratios []float64
	for run := range b.o.Runs {
		cmd := exec.CommandContext(ctx, filepath.Join(b.o.binDir, "producer"),
			"--count", strconv.Itoa(b.o.ProducerCount), "--rate", "0", "--quiet",
			"--gateways", "stripe,razorpay,paypal,adyen,square", "--topic", topic, "--seed", strconv.Itoa(run+1))
		cmd.Env = append(os.Environ(), "KAFKA_BOOTSTRAP_SERVERS="+b.kafka.BootstrapServers, "ENV_FILE=/nonexistent", "LOG_FORMAT=text")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("producer: %v\n%s", err, lastLines(string(out), 10))
		}
		m := producerDone.FindStringSubmatch(string(out))
		if m == nil {
			return fmt.Errorf("producer printed no Done line:\n%s", lastLines(string(out), 10))
		}
		rate, _ := strconv.ParseFloat(m[3], 64)
		rates = append(rates, rate)
		ratios = append(ratios, rate/b.ceil.at(b.ceil.producer, run))
		say("   run %d: %.0f records/s", run+1, rate)
	}
	b.res.add("producer", "cmd/producer", "records/s", rates, fmt.Sprintf("%d records, one mixed topic (--topic)", b.o.ProducerCount))
	if len(b.ceil.producer) > 0 {
		b.res.add("producer", "÷ Kafka ProducerPerformance", "×", ratios, "same run")
	}
	return nil
}

// ── 3. ingest ───────────────────────────────────────────────────────────

var modes = []string{ingest.ModePerTopic, ingest.ModeShared}

func (b *bench) stageIngest(ctx context.Context) error {
	raw := rawTopics(b.name("ingest"))
	if err := b.createTopics(ctx, 3, topicList(raw)...); err != nil {
		return err
	}
	recs, err := generate(7, b.o.IngestRecords, b.o.InvalidRate)
	if err != nil {
		return err
	}
	began := time.Now()
	if err := b.fill(ctx, raw, recs); err != nil {
		return err
	}
	say("   pre-filled %d records in %.1fs", len(recs), time.Since(began).Seconds())
	offs, err := newOffsets(b.kafka)
	if err != nil {
		return err
	}
	defer offs.close()
	rate := map[string][]float64{}
	cpu := map[string][]float64{}
	ratio := map[string][]float64{}
	// Ingest writes every record it reads, so Kafka's producer on the same
	// broker bounds it as much as Kafka's consumer does.
	ratioProd := map[string][]float64{}
	machine := map[string][]float64{}
	broker := map[string][]float64{}
	var sharedVsPerTopic []float64
	for run := range b.o.Runs {
		order := slices.Clone(modes)
		if run%2 == 1 {
			slices.Reverse(order) // neither mode always goes first
		}
		got := map[string]float64{}
		for _, mode := range order {
			r, err := b.ingestRun(ctx, offs, topicList(raw), mode, run, len(recs))
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				b.warn("ingest %s run %d: %v", mode, run+1, err)
				r = ingestResult{rate: math.NaN(), cpuPerM: math.NaN(), machine: math.NaN(), broker: math.NaN()}
			} else {
				say("   run %d %-9s: %.0f records/s, %.1f server CPU s per 1M payments; broker %.0f%% of a core, machine %.0f%% busy",
					run+1, mode, r.rate, r.cpuPerM, r.broker, r.machine)
			}
			got[mode] = r.rate
			rate[mode] = append(rate[mode], r.rate)
			cpu[mode] = append(cpu[mode], r.cpuPerM)
			machine[mode] = append(machine[mode], r.machine)
			broker[mode] = append(broker[mode], r.broker)
			ratio[mode] = append(ratio[mode], r.rate/b.ceil.at(b.ceil.consumer, run))
			ratioProd[mode] = append(ratioProd[mode], r.rate/b.ceil.at(b.ceil.producer, run))
		}
		sharedVsPerTopic = append(sharedVsPerTopic, got[ingest.ModeShared]/got[ingest.ModePerTopic])
	}
	note := fmt.Sprintf("%d records pre-filled, %.0f%% malformed; steady state, from SERVING to the last output", len(recs), b.o.InvalidRate*100)
	for _, mode := range modes {
		b.res.add("ingest", "records/s, "+mode, "records/s", rate[mode], note)
	}
	if len(b.ceil.consumer) > 0 {
		for _, mode := range modes {
			b.res.add("ingest", "÷ Kafka ConsumerPerformance, "+mode, "×", ratio[mode], "same run")
		}
		for _, mode := range modes {
			b.res.add("ingest", "÷ Kafka ProducerPerformance, "+mode, "×", ratioProd[mode], "same run; ingest also writes every record")
		}
	}
	for _, mode := range modes {
		b.res.add("ingest", "server CPU per 1M payments, "+mode, "CPU s", cpu[mode], "utime+stime from /proc")
	}
	for _, mode := range modes {
		b.res.addIfAny("ingest", "Kafka broker CPU, "+mode, "% of a core", broker[mode], "")
	}
	for _, mode := range modes {
		b.res.add("ingest", "machine CPU busy, "+mode, "% of all", machine[mode], "everything on the box")
	}
	b.res.add("ingest", "shared ÷ per-topic throughput", "×", sharedVsPerTopic, "same run")
	return nil
}

// ingestRun starts a server on pre-filled raw topics and measures how fast
// normalized + DLQ fill up, in steady state: from the moment the server
// reports SERVING (every ingest consumer has its partitions; with one
// consumer per topic the group rebalances once per consumer before that)
// until the last output. If everything was done before SERVING (tiny smoke
// sizes), it times from the first output instead.
func (b *bench) ingestRun(ctx context.Context, offs *offsets, raw []string, mode string, run, want int) (res ingestResult, err error) {
	tag := fmt.Sprintf("%s-%d", mode, run)
	normalized, dlq := b.name("ingest", tag, "normalized"), b.name("ingest", tag, "dlq")
	if err := b.createTopics(ctx, 3, normalized, dlq); err != nil {
		return res, err
	}
	srv, err := b.startServer(ctx, serverCfg{topics: raw, normalized: normalized, dlq: dlq, group: b.name("ingest", tag, "group"), mode: mode})
	if err != nil {
		return res, err
	}
	defer b.stopServer(srv)
	var serving atomic.Bool
	go func() {
		if _, err := srv.waitServing(ctx, 3*time.Minute); err == nil {
			serving.Store(true)
		}
	}()
	type point struct {
		n  int64
		s  procSample    // the server
		bk procSample    // the broker
		m  machineSample // the machine
	}
	broker := brokerPID(b.o.kafkaSh)
	var firstOutput, fromServing, last point
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		if time.Now().After(deadline) {
			return res, fmt.Errorf("%d of %d outputs after 3 min: %w", last.n, want, errTimeout)
		}
		isServing := serving.Load()
		n, err := offs.sum(normalized, dlq)
		if err != nil {
			return res, err // after retries
		}
		s, err := sampleProc(srv.pid)
		if err != nil {
			return res, fmt.Errorf("server gone: %v\n%s", err, srv.out)
		}
		p := point{n: n, s: s}
		if broker > 0 {
			p.bk, _ = sampleProc(broker)
		}
		p.m, _ = sampleMachine()
		if firstOutput.s.at.IsZero() && n > 0 {
			firstOutput = p
		}
		if fromServing.s.at.IsZero() && isServing {
			fromServing = p
		}
		last = p
		if n >= int64(want) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	first := fromServing
	if first.s.at.IsZero() || last.n-first.n < int64(want)/10 {
		first = firstOutput
	}
	done := float64(last.n - first.n)
	secs := last.s.at.Sub(first.s.at).Seconds()
	if done <= 0 || secs <= 0 {
		return res, fmt.Errorf("too few records to time (%d); raise the count", want)
	}
	r := ingestResult{rate: done / secs, cpuPerM: cpuSeconds(first.s, last.s) / done * 1e6, machine: busyPercent(first.m, last.m), broker: math.NaN()}
	if !first.bk.at.IsZero() && !last.bk.at.IsZero() {
		r.broker = cpuSeconds(first.bk, last.bk) / secs * 100
	}
	return r, nil
}

type ingestResult struct {
	rate    float64 // records/s
	cpuPerM float64 // server CPU seconds per 1M payments
	machine float64 // % of all cores busy
	broker  float64 // the broker's CPU, % of a core
}
