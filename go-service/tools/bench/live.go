package main

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/paymentgateway/aggregator/go-service/internal/normalizer"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

// stageLiveServer runs latency (4) and fan-out (5) against one live server
// in its default consumer mode, fed by the bench's own producer.
func (b *bench) stageLiveServer(ctx context.Context) error {
	raw := rawTopics(b.name("live"))
	normalized, dlq := b.name("live", "normalized"), b.name("live", "dlq")
	if err := b.createTopics(ctx, 3, append(topicList(raw), normalized, dlq)...); err != nil {
		return err
	}
	srv, err := b.startServer(ctx, serverCfg{topics: topicList(raw), normalized: normalized, dlq: dlq, group: b.name("live", "group")})
	if err != nil {
		return err
	}
	defer b.stopServer(srv)
	if _, err := srv.waitServing(ctx, 2*time.Minute); err != nil {
		return err
	}
	s, err := newSender(b.kafka)
	if err != nil {
		return err
	}
	defer s.close()
	offs, err := newOffsets(b.kafka)
	if err != nil {
		return err
	}
	defer offs.close()
	l := &live{b: b, addr: srv.addr, pid: srv.pid, broker: brokerPID(b.o.kafkaSh), raw: raw, normalized: normalized, sender: s, offs: offs}
	seed := uint64(1000)
	if b.o.stages["latency"] {
		for _, rate := range b.o.LatencyRates {
			var p50, p99, p999, offered, server, broker, machine []float64
			for run := range b.o.Runs {
				seed++
				r, err := l.latencyRun(ctx, seed, rate, b.o.LatencySeconds)
				if err != nil {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					b.warn("latency at %d/s run %d: %v", rate, run+1, err)
					continue
				}
				p50 = append(p50, ms(percentile(r.lat, 50)))
				p99 = append(p99, ms(percentile(r.lat, 99)))
				p999 = append(p999, ms(percentile(r.lat, 99.9)))
				offered = append(offered, r.offered)
				server = append(server, r.cpu.server)
				broker = append(broker, r.cpu.broker)
				machine = append(machine, r.cpu.machine)
				say("   latency at %d/s run %d: p50 %.1f ms, p99 %.1f ms, p99.9 %.1f ms (%d payments, offered %.0f/s); CPU: server %.0f%%, broker %.0f%% of a core, machine %.0f%% busy",
					rate, run+1, p50[len(p50)-1], p99[len(p99)-1], p999[len(p999)-1], len(r.lat), r.offered, r.cpu.server, r.cpu.broker, r.cpu.machine)
			}
			note := fmt.Sprintf("%.0f s at %d/s", b.o.LatencySeconds, rate)
			b.res.add("latency", fmt.Sprintf("p50 at %d/s", rate), "ms", p50, note)
			b.res.add("latency", fmt.Sprintf("p99 at %d/s", rate), "ms", p99, "")
			b.res.add("latency", fmt.Sprintf("p99.9 at %d/s", rate), "ms", p999, "")
			b.res.add("latency", fmt.Sprintf("offered rate achieved at %d/s", rate), "records/s", offered, "")
			b.res.add("latency", fmt.Sprintf("server CPU at %d/s", rate), "% of a core", server, "from /proc, over the run")
			b.res.addIfAny("latency", fmt.Sprintf("Kafka broker CPU at %d/s", rate), "% of a core", broker, "")
			b.res.add("latency", fmt.Sprintf("machine CPU busy at %d/s", rate), "% of all", machine, "everything on the box")
		}
	}
	if b.o.stages["fanout"] {
		for _, clients := range b.o.FanoutClients {
			var delivered, ingested, server, self, clientsCPU, broker, machine []float64
			for run := range b.o.Runs {
				seed++
				r, err := l.fanoutRun(ctx, seed, clients, b.o.FanoutRecords)
				if err != nil {
					if ctx.Err() != nil {
						return ctx.Err()
					}
					b.warn("fan-out to %d run %d: %v", clients, run+1, err)
					continue
				}
				delivered = append(delivered, r.delivered)
				ingested = append(ingested, r.ingested)
				server = append(server, r.cpu.server)
				self = append(self, r.cpu.self)
				clientsCPU = append(clientsCPU, r.cpu.clients)
				broker = append(broker, r.cpu.broker)
				machine = append(machine, r.cpu.machine)
				say("   fan-out to %d client(s) run %d: %.0f payments/s delivered in all, ingest %.0f records/s; CPU: server %.0f%%, clients %.0f%%, sender %.0f%%, broker %.0f%% of a core, machine %.0f%% busy",
					clients, run+1, r.delivered, r.ingested, r.cpu.server, r.cpu.clients, r.cpu.self, r.cpu.broker, r.cpu.machine)
			}
			note := fmt.Sprintf("%d payments to each client; clients in their own process under nice 19", b.o.FanoutRecords)
			b.res.add("fanout", fmt.Sprintf("%d client(s): payments/s delivered, all clients", clients), "payments/s", delivered, note)
			b.res.add("fanout", fmt.Sprintf("%d client(s): ingest rate meanwhile", clients), "records/s", ingested, "")
			b.res.add("fanout", fmt.Sprintf("%d client(s): server CPU", clients), "% of a core", server, "")
			b.res.add("fanout", fmt.Sprintf("%d client(s): clients' process CPU", clients), "% of a core", clientsCPU, "same machine, nice 19")
			b.res.add("fanout", fmt.Sprintf("%d client(s): sender CPU (bench process)", clients), "% of a core", self, "")
			b.res.addIfAny("fanout", fmt.Sprintf("%d client(s): Kafka broker CPU", clients), "% of a core", broker, "")
			b.res.add("fanout", fmt.Sprintf("%d client(s): machine CPU busy", clients), "% of all", machine, "")
		}
	}
	return nil
}

type live struct {
	b          *bench
	addr       string
	pid        int // the server's
	broker     int // the local Kafka's, 0 if unknown
	raw        map[pb.Gateway]string
	normalized string
	sender     *sender
	offs       *offsets
}

func paymentKey(g pb.Gateway, id string) string { return normalizer.GatewayName(g) + ":" + id }

// client is one Go stream client of the bench.
type client struct {
	conn   *grpc.ClientConn
	cancel context.CancelFunc
	done   chan struct{} // closed when the receive loop ends
}

// openClient streams from "latest" and calls got for every payment received.
func openClient(ctx context.Context, addr string, got func(*pb.Payment, time.Time)) (*client, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithCancel(ctx)
	stream, err := pb.NewPaymentServiceClient(conn).StreamPayments(cctx, &pb.StreamPaymentsRequest{Start: pb.StartPosition_START_POSITION_LATEST})
	if err != nil {
		cancel()
		conn.Close()
		return nil, err
	}
	c := &client{conn: conn, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for {
			r, err := stream.Recv()
			if err != nil {
				return
			}
			got(r.GetPayment(), time.Now())
		}
	}()
	return c, nil
}

func (c *client) close() {
	c.cancel()
	<-c.done
	c.conn.Close()
}

// waitClients waits until the server counts n stream clients: their
// subscriptions exist, so "latest" starts before the first send.
func (l *live) waitClients(ctx context.Context, n int) error {
	conn, err := grpc.NewClient(l.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	pc := pb.NewPaymentServiceClient(conn)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		st, err := pc.GetStats(ctx, &pb.GetStatsRequest{})
		if err == nil && int(st.GetConnectedClients()) >= n {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("server counts fewer than %d stream clients after 30s: %w", n, errTimeout)
}

type latencyResult struct {
	lat     []time.Duration // sorted
	offered float64         // records/s actually sent
	cpu     cpuShares
}

// latencyRun offers rate records/s for secs seconds and returns the sorted
// send → receive latencies, the rate actually offered and the server's CPU.
func (l *live) latencyRun(ctx context.Context, seed uint64, rate int, secs float64) (res latencyResult, err error) {
	n := int(float64(rate) * secs)
	recs, err := generate(seed, n, 0)
	if err != nil {
		return res, err
	}
	index := make(map[string]int, n)
	for i, r := range recs {
		index[paymentKey(r.Gateway, r.Key)] = i
	}
	sent := make([]time.Time, n)
	recv := make([]time.Time, n)
	var received atomic.Int64
	all := make(chan struct{})
	c, err := openClient(ctx, l.addr, func(p *pb.Payment, at time.Time) {
		i, ok := index[paymentKey(p.GetGateway(), p.GetId())]
		if !ok || !recv[i].IsZero() {
			return
		}
		recv[i] = at
		if received.Add(1) == int64(n) {
			close(all)
		}
	})
	if err != nil {
		return res, err
	}
	defer c.close()
	if err := l.waitClients(ctx, 1); err != nil {
		return res, err
	}
	u := startUsage(l.pid, l.broker)
	start := time.Now()
	for i := 0; i < n; {
		due := min(n, int(time.Since(start).Seconds()*float64(rate))+1)
		for ; i < due; i++ {
			sent[i] = time.Now()
			if err := l.sender.send(ctx, l.raw[recs[i].Gateway], recs[i]); err != nil {
				return res, err
			}
		}
		// A millisecond between bursts: the offered rate holds (each burst
		// sends what is due) without waking the sender 5000 times a second.
		time.Sleep(time.Millisecond)
	}
	res.offered = float64(n) / time.Since(start).Seconds()
	select {
	case <-all:
	case <-time.After(60 * time.Second):
	case <-ctx.Done():
		return res, ctx.Err()
	}
	res.cpu = u.done()
	c.close()
	if err := l.sender.wait(); err != nil {
		return res, err
	}
	var lat []time.Duration
	for i := range n {
		if !recv[i].IsZero() {
			lat = append(lat, recv[i].Sub(sent[i]))
		}
	}
	if len(lat) < n {
		return res, fmt.Errorf("received %d of %d payments within 60s", len(lat), n)
	}
	slices.Sort(lat)
	res.lat = lat
	return res, nil
}

type fanoutResult struct {
	delivered float64 // payments/s, all clients together
	ingested  float64 // normalized records/s meanwhile
	cpu       cpuShares
}

// fanoutRun opens clients, sends records as fast as Kafka takes them, and
// returns payments/s delivered to all clients together, and the ingest rate
// meanwhile (normalized records/s), both from the first send. The clients
// run in a process of their own at the lowest CPU priority (`bench
// clients`, under nice 19): on a machine shared by the broker, the server
// and a hundred clients decoding every payment, clients at equal priority
// measure the clients' CPU, not what serving them costs the server; in a
// deployment they run elsewhere.
func (l *live) fanoutRun(ctx context.Context, seed uint64, clients, records int) (res fanoutResult, err error) {
	procs, err := startClients(ctx, l.addr, clients, records, seed)
	if err != nil {
		return res, err
	}
	defer procs.stop()
	if err := l.waitClients(ctx, clients); err != nil {
		return res, err
	}
	recs, err := generate(seed, records, 0)
	if err != nil {
		return res, err
	}
	base, err := l.offs.count(l.normalized)
	if err != nil {
		return res, err
	}
	u := startUsageWith(l.pid, l.broker, procs.pid())
	start := time.Now()
	for _, r := range recs {
		if err := l.sender.send(ctx, l.raw[r.Gateway], r); err != nil {
			return res, err
		}
	}
	var ingestedAt time.Time
	deadline := time.Now().Add(2 * time.Minute)
	for ingestedAt.IsZero() && time.Now().Before(deadline) {
		n, err := l.offs.count(l.normalized)
		if err != nil {
			return res, err
		}
		if n-base >= int64(records) {
			ingestedAt = time.Now()
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if ingestedAt.IsZero() {
		return res, fmt.Errorf("normalized topic did not grow by %d in 2 min: %w", records, errTimeout)
	}
	end, err := procs.waitDone(ctx, 3*time.Minute)
	if err != nil {
		return res, err
	}
	res.cpu = u.done()
	if err := l.sender.wait(); err != nil {
		return res, err
	}
	res.delivered = float64(clients*records) / end.Sub(start).Seconds()
	res.ingested = float64(records) / ingestedAt.Sub(start).Seconds()
	return res, nil
}
