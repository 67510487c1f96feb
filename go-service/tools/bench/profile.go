package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/paymentgateway/aggregator/go-service/internal/config"
	"github.com/paymentgateway/aggregator/go-service/internal/ingest"
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
	if err := reachable(k.BootstrapServers); err != nil {
		return fmt.Errorf("no Kafka at %s (make kafka-up): %w", k.BootstrapServers, err)
	}
	b := &bench{id: fmt.Sprintf("bench-prof-%d", time.Now().Unix()%1e6), kafka: k, procs: newProcSet()}
	ctx := context.Background()
	defer b.cleanup()
	raw := rawTopics(b.name("profile"))
	normalized, dlq := b.name("profile", "normalized"), b.name("profile", "dlq")
	if err := b.createTopics(ctx, 3, append(topicList(raw), normalized, dlq)...); err != nil {
		return err
	}
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

	cfg := pipelineCfg{kafka: k, topics: topicList(raw), normalized: normalized, dlq: dlq, group: b.name("profile", "group"),
		mode: *mode, host: "127.0.0.1", window: 100000, grace: 10 * time.Second}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- runPipeline(runCtx, cfg, quietLogger()) }()
	var began time.Time
	if *rate > 0 {
		// Live: wait until the pipeline listens, then profile while sending.
		time.Sleep(3 * time.Second)
		began = time.Now()
		if err := pprof.StartCPUProfile(f); err != nil {
			stop()
			return err
		}
		s, err := newSender(k)
		if err != nil {
			stop()
			return err
		}
		for i := 0; i < len(recs); {
			due := min(len(recs), int(time.Since(began).Seconds()*float64(*rate))+1)
			for ; i < due; i++ {
				if err := s.send(ctx, raw[recs[i].Gateway], recs[i]); err != nil {
					stop()
					return err
				}
			}
			time.Sleep(time.Millisecond)
		}
		err = s.wait()
		s.close()
		if err != nil {
			stop()
			return err
		}
	}

	profiling := false
	deadline := time.Now().Add(5 * time.Minute)
	for {
		n, err := offs.sum(normalized, dlq)
		if err != nil {
			stop()
			return err
		}
		if !profiling && (n > 0 || *rate > 0) {
			if *rate == 0 {
				if err := pprof.StartCPUProfile(f); err != nil {
					stop()
					return err
				}
				began = time.Now()
			}
			profiling = true
		}
		if n >= int64(len(recs)) {
			break
		}
		if time.Now().After(deadline) {
			stop()
			return fmt.Errorf("%d of %d records ingested after 5 min", n, len(recs))
		}
		time.Sleep(20 * time.Millisecond)
	}
	pprof.StopCPUProfile()
	took := time.Since(began)
	stop()
	if err := <-done; err != nil {
		return err
	}
	say("profiled %d records of ingest + serve (%s consumer) over %.1fs: %s", len(recs), *mode, took.Seconds(), path)
	return nil
}
