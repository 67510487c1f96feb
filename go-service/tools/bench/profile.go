package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/paymentgateway/aggregator/go-service/internal/app"
	"github.com/paymentgateway/aggregator/go-service/internal/config"
	"github.com/paymentgateway/aggregator/go-service/internal/ingest"
	"github.com/paymentgateway/aggregator/go-service/internal/kafkatest"
	"github.com/paymentgateway/aggregator/go-service/internal/synthetic"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

// profileMain is `bench profile`: the server's stages (ingest + serve, as
// wired by cmd/server) run in this process on pre-filled raw topics while
// runtime/pprof records a CPU profile, from the first record ingested until
// every record came out as a payment or a DLQ record. With -rate, records
// are sent live at that rate instead. The profile sees Go code only:
// librdkafka's own threads (C) are not in it; /proc counts them (make bench).
func profileMain(args []string) error {
	fs := flag.NewFlagSet("bench profile", flag.ContinueOnError)
	out := fs.String("out", "../bench/results", "directory for ingest.cpu.prof")
	records := fs.Int("records", 60000, "records to pre-fill and ingest")
	mode := fs.String("consumer-mode", ingest.ModePerTopic, "ingest consumer mode: per-topic or shared")
	rate := fs.Int("rate", 0, "0: pre-fill the raw topics, then profile ingesting them as fast as possible; N: profile while sending N records/s live")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := ingest.CheckConsumerMode(*mode); err != nil {
		return err
	}
	k := config.Kafka{BootstrapServers: envOr("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"), Partitions: 3, ReplicationFactor: -1}
	if err := kafkatest.Reachable(k.BootstrapServers); err != nil {
		return err
	}
	b := &bench{id: fmt.Sprintf("bench-prof-%d", time.Now().Unix()%1e6), kafka: k, procs: newProcSet()}
	ctx := context.Background()
	defer b.cleanup()
	raw := rawTopics(b.name("profile"))
	normalized, dlq := b.name("profile", "normalized"), b.name("profile", "dlq")
	if err := b.createTopics(ctx, 3, topicList(raw)...); err != nil {
		return err
	}
	events, state := b.name("profile", "events"), b.name("profile", "state")
	b.own(normalized, dlq, events, state) // the server creates them, as in production
	dir, err := os.MkdirTemp("", "bench-state-")
	if err != nil {
		return err
	}
	b.dirs = append(b.dirs, dir)
	recs, err := generate(5, *records, 0.01)
	if err != nil {
		return err
	}
	if *rate == 0 {
		say("pre-filling %d records...", len(recs))
		if err := b.fill(ctx, raw, recs); err != nil {
			return err
		}
	}
	offs, err := newOffsets(k)
	if err != nil {
		return err
	}
	defer offs.close()
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	path := filepath.Join(*out, "ingest.cpu.prof")
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()

	cfg := app.Config{Kafka: k, Topics: topicList(raw), EventsTopic: events, NormalizedTopic: normalized, StateTopic: state, DLQTopic: dlq,
		GroupID: b.name("profile", "group"), State: app.StateConfig{Dir: dir},
		ConsumerMode: *mode, Host: "127.0.0.1", Window: 100000, ShutdownGrace: 10 * time.Second}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	server, err := app.Start(runCtx, cfg, quietLogger())
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- server.Wait() }()
	p := profiled{server: server, out: f, offs: offs, k: k, raw: raw, recs: recs, rate: *rate, normalized: normalized, dlq: dlq}
	took, err := p.run(ctx)
	stop()
	if waitErr := <-done; err == nil {
		err = waitErr
	}
	if err != nil {
		return err
	}
	say("profiled %d records of ingest + serve (%s consumer) over %.1fs: %s", len(recs), *mode, took.Seconds(), path)
	return nil
}

// profiled is one profile of a running server.
type profiled struct {
	server          *app.App
	out             *os.File
	offs            *offsets
	k               config.Kafka
	raw             map[pb.Gateway]string
	recs            []synthetic.Record
	rate            int
	normalized, dlq string
}

// run profiles until every record came out as a payment or a DLQ record and
// returns how long that took.
func (p profiled) run(ctx context.Context) (time.Duration, error) {
	var began time.Time
	profiling := false
	defer func() {
		if profiling {
			pprof.StopCPUProfile()
		}
	}()
	if p.rate > 0 {
		// Live: wait until the server is ready, then profile while sending.
		if err := waitReady(p.server, time.Minute); err != nil {
			return 0, err
		}
		if err := pprof.StartCPUProfile(p.out); err != nil {
			return 0, err
		}
		began, profiling = time.Now(), true
		if err := p.send(ctx, began); err != nil {
			return 0, err
		}
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		n, err := p.offs.sum(p.normalized, p.dlq)
		if err != nil {
			return 0, err
		}
		if !profiling && n > 0 {
			if err := pprof.StartCPUProfile(p.out); err != nil {
				return 0, err
			}
			began, profiling = time.Now(), true
		}
		if n >= int64(len(p.recs)) {
			return time.Since(began), nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%d of %d records ingested after 5 min", n, len(p.recs))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// send sends the records live at p.rate per second from began.
func (p profiled) send(ctx context.Context, began time.Time) error {
	s, err := newSender(p.k)
	if err != nil {
		return err
	}
	defer s.close()
	for i := 0; i < len(p.recs); {
		due := min(len(p.recs), int(time.Since(began).Seconds()*float64(p.rate))+1)
		for ; i < due; i++ {
			if err := s.send(ctx, p.raw[p.recs[i].Gateway], p.recs[i]); err != nil {
				return err
			}
		}
		time.Sleep(time.Millisecond)
	}
	return s.wait()
}

// waitReady waits until the server is ready as its health check says.
func waitReady(server *app.App, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, why := server.Ready()
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server not ready after %v: %s", timeout, why)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
