package main

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/paymentgateway/aggregator/go-service/internal/synthetic"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

// recoveryRecords are produced at each restart: two per gateway, so that
// every raw topic's consumer has to be back.
const recoveryRecords = 10

// stageRecovery measures the seconds from restarting a server killed with
// -9 to its ingest resumed: every record produced at the restart is in the
// normalized topic. The server runs with default settings; the restart
// keeps the gRPC port, and so its default instance id (host name and port),
// as a supervisor restarting it in place does.
func (b *bench) stageRecovery(ctx context.Context) error {
	raw := rawTopics(b.name("recovery"))
	normalized, dlq := b.name("recovery", "normalized"), b.name("recovery", "dlq")
	b.own(append(topicList(raw), normalized, dlq)...)
	recs, err := generate(61, recoveryRecords*b.o.RecoveryRuns, 0)
	if err != nil {
		return err
	}
	offs, err := newOffsets(b.kafka)
	if err != nil {
		return err
	}
	defer offs.close()
	var secs []float64
	for run := range b.o.RecoveryRuns {
		batch := recs[run*recoveryRecords : (run+1)*recoveryRecords]
		took, err := b.recoveryRun(ctx, offs, raw, normalized, dlq, run, batch)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			b.warn("recovery run %d: %v", run+1, err)
			continue
		}
		say("   run %d: ingest resumed %.2fs after the restart", run+1, took.Seconds())
		secs = append(secs, took.Seconds())
	}
	b.res.add("recovery", "restart → ingest resumed after kill -9", "s", secs,
		fmt.Sprintf("median of %d; default settings, same host and port", b.o.RecoveryRuns))
	return nil
}

func (b *bench) recoveryRun(ctx context.Context, offs *offsets, raw map[pb.Gateway]string, normalized, dlq string, run int, batch []synthetic.Record) (time.Duration, error) {
	port, err := freePort()
	if err != nil {
		return 0, err
	}
	cfg := serverCfg{topics: topicList(raw), normalized: normalized, dlq: dlq, group: b.name("recovery", fmt.Sprint(run), "group"), port: port}
	first, err := b.startServer(ctx, cfg)
	if err != nil {
		return 0, err
	}
	if _, err := first.waitServing(ctx, 90*time.Second); err != nil {
		b.stopServer(first)
		return 0, err
	}
	b.killServer(first)
	before, err := offs.count(normalized)
	if err != nil {
		return 0, err
	}
	restarted, err := b.startServer(ctx, cfg)
	if err != nil {
		return 0, err
	}
	defer b.stopServer(restarted)
	if err := b.fill(ctx, raw, batch); err != nil {
		return 0, err
	}
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		n, err := offs.count(normalized)
		if err != nil {
			return 0, err
		}
		if n >= before+int64(len(batch)) {
			return time.Since(restarted.startedAt), nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return 0, fmt.Errorf("ingest did not resume within 2 minutes of the restart\n%s", restarted.out)
}

// killServer ends a server with SIGKILL: no drain, no commit, no goodbye.
func (b *bench) killServer(s *serverProc) {
	defer b.procs.remove(s)
	if s.exited {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.exited = true
}

// freePort returns a loopback port free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
