package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/paymentgateway/aggregator/go-service/internal/synthetic"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

// stageState measures what issue 13 asks of the state stage, on one server
// with default settings (topics, STATE_DIR and group ids of its own):
//
//  1. its RSS after each of StatePayments distinct payments ingested, and
//     the growth between the last two sizes;
//  2. a restart (SIGTERM, same port and STATE_DIR) to SERVING with those
//     payments behind it;
//  3. a fresh instance (same port, empty STATE_DIR) to SERVING: it rebuilds
//     its view and its state stage's store from the state topic; its read
//     rate against Kafka's ConsumerPerformance on that topic in the same run;
//  4. StateStalled streams from EARLIEST whose clients never read: the RSS
//     they add, the rate of a live client meanwhile, and how many the server
//     cut off with RESOURCE_EXHAUSTED and a cursor.
//
// Every figure comes from one run: the stage is too long to repeat.
func (b *bench) stageState(ctx context.Context) error {
	raw := rawTopics(b.name("state"))
	normalized, dlq := b.name("state", "normalized"), b.name("state", "dlq")
	if err := b.createTopics(ctx, 3, topicList(raw)...); err != nil {
		return err
	}
	b.own(normalized, dlq)
	port, err := freePort()
	if err != nil {
		return err
	}
	st := &stateRun{b: b, topic: raw[pb.Gateway_GATEWAY_STRIPE]}
	cfg := serverCfg{topics: topicList(raw), normalized: normalized, dlq: dlq, group: b.name("state", "group"), port: port, onLine: st.line}
	if b.o.StateWindow > 0 {
		cfg.env = []string{"STREAM_WINDOW=" + strconv.Itoa(b.o.StateWindow)}
	}
	if st.gen, err = newStripeSucceeded(); err != nil {
		return err
	}
	if st.sender, err = newSender(b.kafka); err != nil {
		return err
	}
	defer st.sender.close()

	srv, err := b.startServer(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() { b.stopServer(srv) }()
	if _, err := srv.waitServing(ctx, 2*time.Minute); err != nil {
		return err
	}
	if st.conn, err = grpc.NewClient(srv.addr, grpc.WithTransportCredentials(insecure.NewCredentials())); err != nil {
		return err
	}
	defer func() { st.conn.Close() }()
	if err := st.ingest(ctx, srv); err != nil {
		return err
	}
	if err := st.stalled(ctx, srv); err != nil {
		return err
	}

	// Every payment sent, the live client's too, is behind the restarts.
	total := int64(st.gen.n)
	if err := st.waitPayments(ctx, srv, total); err != nil {
		return err
	}
	cfg.stateDir = srv.stateDir
	if srv, err = st.restart(ctx, srv, cfg, "restart", total); err != nil {
		return err
	}
	cfg.stateDir = ""
	if srv, err = st.restart(ctx, srv, cfg, "fresh", total); err != nil {
		return err
	}
	b.stopServer(srv)
	return st.consumerPerf(ctx, cfg.normalized+"-state", total)
}

// stateRun is the stage's server, its client connection and its sender.
type stateRun struct {
	b      *bench
	topic  string // the raw Stripe topic
	gen    *stripeSucceeded
	sender *sender
	conn   *grpc.ClientConn // to the server that runs now

	viewRate float64 // records/s the fresh instance's view read at start

	mu       sync.Mutex
	viewLine string // the last "view caught up" line the server printed
	restored []restoreLine
	began    time.Time                // when the server that prints now was started
	marks    map[string]time.Duration // after began: when it said each milestone (the last time)
}

type restoreLine struct {
	records int64
	took    time.Duration
}

var (
	viewCaughtUp = regexp.MustCompile(`view caught up: read (\d+) record\(s\) of .* in (\S+)`)
	restoredLine = regexp.MustCompile(`restored partitions .*: read (\d+) record\(s\) of \S+ in (\S+)`)
	// milestones of a start, in the order they are reported
	milestones = []struct {
		name string
		re   *regexp.Regexp
	}{
		{"listening", regexp.MustCompile(`gRPC listening on`)},
		{"ingest assigned", regexp.MustCompile(`Assigned \d+ partition\(s\) of`)},
		{"state stage assigned", regexp.MustCompile(`store checkpoint matches|restored partitions`)},
		{"view caught up", viewCaughtUp},
	}
)

// line watches the server's output for what its view and state stage say
// of their start.
func (s *stateRun) line(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range milestones {
		if m.re.MatchString(line) && s.marks != nil {
			s.marks[m.name] = time.Since(s.began)
		}
	}
	if viewCaughtUp.MatchString(line) {
		s.viewLine = line
	}
	if m := restoredLine.FindStringSubmatch(line); m != nil {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		d, _ := time.ParseDuration(m[2])
		s.restored = append(s.restored, restoreLine{n, d})
	}
}

// ingest sends each size's payments and records the server's RSS once its
// view counts them all.
func (s *stateRun) ingest(ctx context.Context, srv *serverProc) error {
	b := s.b
	time.Sleep(time.Second) // settle after start-up
	idle, err := sampleProc(srv.pid)
	if err != nil {
		return fmt.Errorf("server gone: %v\n%s", err, srv.out)
	}
	b.res.add("state", "server RSS with 0 payments", "MB", []float64{mb(idle.rssKB)}, "after SERVING; default settings")
	var rss []float64
	for _, n := range b.o.StatePayments {
		began := time.Now()
		from := s.gen.n
		if err := s.send(ctx, n-from); err != nil {
			return err
		}
		sent := time.Since(began)
		if err := s.waitPayments(ctx, srv, int64(n)); err != nil {
			return err
		}
		took := time.Since(began)
		// The figure is the RSS a while after the burst, not its peak.
		time.Sleep(3 * time.Second)
		p, err := sampleProc(srv.pid)
		if err != nil {
			return fmt.Errorf("server gone: %v\n%s", err, srv.out)
		}
		rss = append(rss, mb(p.rssKB))
		rate := float64(n-from) / took.Seconds()
		say("   %d payments: sent in %.1fs, in the server's view after %.1fs (%.0f payments/s end to end); RSS %.0f MB, %d threads",
			n, sent.Seconds(), took.Seconds(), rate, mb(p.rssKB), p.threads)
		b.res.add("state", fmt.Sprintf("server RSS after %s payments", count(n)), "MB", []float64{mb(p.rssKB)},
			target(atIssueSize(n, n == b.o.StatePayments[len(b.o.StatePayments)-1]), mb(p.rssKB), 256, "MB", "3 s after the view counted them"))
		b.res.add("state", fmt.Sprintf("raw → view rate, payments %s–%s", count(from), count(n)), "payments/s", []float64{rate},
			"written to the raw topic as fast as Kafka took them; until GetStats counts them")
	}
	if k := len(rss); k >= 2 {
		lo, hi := b.o.StatePayments[k-2], b.o.StatePayments[k-1]
		growth := rss[k-1] - rss[k-2]
		b.res.add("state", fmt.Sprintf("RSS growth %s → %s payments", count(lo), count(hi)), "MB", []float64{growth}, growthTarget(lo, hi, growth))
	}
	return nil
}

// send writes n new payments to the raw topic and waits for Kafka's acks.
func (s *stateRun) send(ctx context.Context, n int) error {
	for range n {
		if err := s.sender.send(ctx, s.topic, s.gen.next()); err != nil {
			return err
		}
	}
	return s.sender.wait()
}

// waitPayments waits until the server's view counts want payments; it fails
// when the count stops growing for a minute.
func (s *stateRun) waitPayments(ctx context.Context, srv *serverProc, want int64) error {
	var last int64 = -1
	moved, told := time.Now(), time.Now()
	for {
		n, err := s.paymentsTotal(ctx)
		if err != nil && ctx.Err() != nil {
			return ctx.Err()
		}
		if n >= want {
			return nil
		}
		if n > last {
			last, moved = n, time.Now()
		}
		if time.Since(told) >= 30*time.Second {
			say("   … %d of %d payments in the view", n, want)
			told = time.Now()
		}
		if time.Since(moved) > time.Minute {
			return fmt.Errorf("the view counts %d of %d payments and has not moved for a minute: %w\n%s", last, want, errTimeout, srv.out)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (s *stateRun) paymentsTotal(ctx context.Context) (int64, error) {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := pb.NewPaymentServiceClient(s.conn).GetStats(cctx, &pb.GetStatsRequest{})
	if err != nil {
		return 0, err
	}
	return st.GetPaymentsTotal(), nil
}

func (s *stateRun) clients(ctx context.Context) (int, error) {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := pb.NewPaymentServiceClient(s.conn).GetStats(cctx, &pb.GetStatsRequest{})
	if err != nil {
		return 0, err
	}
	return int(st.GetConnectedClients()), nil
}

// restart stops srv with SIGTERM and starts it again on the same port,
// with cfg.stateDir ("" is a new, empty one), and times exec → SERVING.
func (s *stateRun) restart(ctx context.Context, srv *serverProc, cfg serverCfg, kind string, total int64) (*serverProc, error) {
	b := s.b
	if _, err := b.stopServer(srv); err != nil {
		return srv, err
	}
	s.mu.Lock()
	s.viewLine, s.restored, s.began, s.marks = "", nil, time.Now(), map[string]time.Duration{}
	s.mu.Unlock()
	next, err := b.startServer(ctx, cfg)
	if err != nil {
		return srv, err
	}
	serving, err := next.waitServing(ctx, 5*time.Minute)
	if err != nil {
		return next, err
	}
	took := serving.Sub(next.startedAt).Seconds()
	s.conn.Close()
	if s.conn, err = grpc.NewClient(next.addr, grpc.WithTransportCredentials(insecure.NewCredentials())); err != nil {
		return next, err
	}
	got, err := s.paymentsTotal(ctx)
	if err != nil {
		return next, err
	}
	if got != total {
		return next, fmt.Errorf("after the %s the view counts %d payments, want %d", kind, got, total)
	}
	s.mu.Lock()
	view, restored := s.viewLine, s.restored
	var marks []string
	for _, m := range milestones {
		if d, ok := s.marks[m.name]; ok {
			marks = append(marks, fmt.Sprintf("%s %.2fs", m.name, d.Seconds()))
		}
	}
	s.mu.Unlock()
	marks = append(marks, fmt.Sprintf("SERVING %.2fs", took))
	timeline := "after exec: " + strings.Join(marks, ", ")
	viewRead, viewTook := int64(-1), time.Duration(0)
	if m := viewCaughtUp.FindStringSubmatch(view); m != nil {
		viewRead, _ = strconv.ParseInt(m[1], 10, 64)
		viewTook, _ = time.ParseDuration(m[2])
	}
	var restoredN int64
	for _, r := range restored {
		restoredN += r.records
	}
	say("   %s: SERVING after %.2fs with %d payments behind it; the view read %d record(s) at start in %v, the state stage restored %d; %s",
		kind, took, total, viewRead, viewTook, restoredN, timeline)
	if kind == "restart" {
		b.res.add("state", fmt.Sprintf("restart → SERVING, %s payments behind it", count(int(total))), "s", []float64{took},
			target(atIssueSize(int(total), true), took, 5, "s", fmt.Sprintf("SIGTERM, same port and STATE_DIR; exec → gRPC health SERVING; the view read %d record(s), the state stage restored %d; %s", viewRead, restoredN, timeline)))
		return next, nil
	}
	b.res.add("state", fmt.Sprintf("fresh instance, empty STATE_DIR → SERVING, %s payments", count(int(total))), "s", []float64{took},
		fmt.Sprintf("same port (static group member); view and state stage both read %s; %s", cfg.normalized+"-state", timeline))
	if viewRead > 0 && viewTook > 0 {
		b.res.add("state", "fresh instance: view rebuild rate", "records/s", []float64{float64(viewRead) / viewTook.Seconds()},
			fmt.Sprintf("%d records in %v (the server's own log), while the state stage restored %d", viewRead, viewTook.Round(time.Millisecond), restoredN))
		s.viewRate = float64(viewRead) / viewTook.Seconds()
	}
	if viewRead <= 0 {
		b.warn("fresh instance: no \"view caught up\" line with a count in the server's output")
	}
	return next, nil
}

// consumerPerf runs Kafka's ConsumerPerformance over the state topic,
// read_committed as the view reads it, and sets the view's rate beside it.
func (s *stateRun) consumerPerf(ctx context.Context, topic string, records int64) error {
	b := s.b
	props := filepath.Join(os.TempDir(), b.id+"-read-committed.properties")
	if err := os.WriteFile(props, []byte("isolation.level=read_committed\n"), 0o644); err != nil {
		return err
	}
	defer os.Remove(props)
	out, err := b.kafkaTool(ctx, "org.apache.kafka.tools.ConsumerPerformance",
		"--bootstrap-server", b.kafka.BootstrapServers, "--topic", topic, "--messages", strconv.FormatInt(records, 10),
		"--group", b.name("state", "consumer-perf"), "--timeout", "60000", "--consumer.config", props)
	if err != nil {
		return err
	}
	rate, err := consumerPerfRate(out)
	if err != nil {
		return err
	}
	say("   ConsumerPerformance on %s: %.0f records/s", topic, rate)
	b.res.add("state", "Kafka ConsumerPerformance on the state topic", "records/s", []float64{rate}, "same topic, same run, read_committed (fetch.nMsg.sec)")
	if s.viewRate > 0 {
		b.res.add("state", "view rebuild rate ÷ ConsumerPerformance", "×", []float64{s.viewRate / rate}, "same run")
	}
	return nil
}

// ── stalled streams ─────────────────────────────────────────────────────

// stalled opens StateStalled streams from EARLIEST that never read, beside
// a live client fed at StateLiveRate, and measures the server's RSS growth,
// the live client's rate before and meanwhile, and how many stalled
// streams the server cut off with RESOURCE_EXHAUSTED and a cursor.
func (s *stateRun) stalled(ctx context.Context, srv *serverProc) error {
	b := s.b
	var received atomic.Int64
	live, err := openClient(ctx, srv.addr, func(*pb.Payment, time.Time) { received.Add(1) })
	if err != nil {
		return err
	}
	defer live.close()
	if err := s.waitClients(ctx, 1, 30*time.Second); err != nil {
		return err
	}
	feedCtx, stopFeed := context.WithCancel(ctx)
	fed := make(chan error, 1)
	go func() { fed <- s.feed(feedCtx, b.o.StateLiveRate) }()
	defer func() {
		stopFeed()
		<-fed
	}()
	rateOver := func(d time.Duration) float64 {
		n0, t0 := received.Load(), time.Now()
		time.Sleep(d)
		return float64(received.Load()-n0) / time.Since(t0).Seconds()
	}
	base := time.Duration(b.o.StateLiveSeconds * float64(time.Second))
	time.Sleep(base / 2) // the feed's first records through
	before := rateOver(base)

	p0, err := sampleProc(srv.pid)
	if err != nil {
		return fmt.Errorf("server gone: %v\n%s", err, srv.out)
	}
	streams, err := openStalled(ctx, srv.addr, b.o.StateStalled)
	if err != nil {
		return err
	}
	defer streams.close()
	openedAt := time.Now()
	n0 := received.Load()
	peak := p0.rssKB
	open := b.o.StateStalled + 1
	deadline := openedAt.Add(time.Duration(b.o.StateStallSeconds * float64(time.Second)))
	for time.Now().Before(deadline) {
		if p, err := sampleProc(srv.pid); err == nil && p.rssKB > peak {
			peak = p.rssKB
		}
		if n, err := s.clients(ctx); err == nil {
			open = n
		}
		if open <= 1 && time.Since(openedAt) >= base {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	during := float64(received.Load()-n0) / time.Since(openedAt).Seconds()
	stalledFor := time.Since(openedAt)
	cut, other := streams.drain()
	say("   %d stalled EARLIEST streams: RSS %.0f → peak %.0f MB (+%.0f MB); %d cut with RESOURCE_EXHAUSTED and a cursor, %d ended otherwise, %d still open after %.0fs; live client %.0f → %.0f payments/s (offered %d/s)",
		b.o.StateStalled, mb(p0.rssKB), mb(peak), mb(peak-p0.rssKB), cut, other, open-1, stalledFor.Seconds(), before, during, b.o.StateLiveRate)
	stNote := fmt.Sprintf("%d streams from EARLIEST, one connection each (64 KiB HTTP/2 windows), never read", b.o.StateStalled)
	if b.o.StateWindow > 0 {
		stNote += fmt.Sprintf("; STREAM_WINDOW=%d so that tiny sizes start before the window", b.o.StateWindow)
	}
	b.res.add("state", fmt.Sprintf("%d stalled EARLIEST streams: server RSS growth (peak)", b.o.StateStalled), "MB", []float64{mb(peak - p0.rssKB)},
		target(targetHere, mb(peak-p0.rssKB), 100, "MB", stNote))
	b.res.add("state", fmt.Sprintf("%d stalled streams: cut with RESOURCE_EXHAUSTED + cursor", b.o.StateStalled), "streams", []float64{float64(cut)},
		fmt.Sprintf("%d ended otherwise; counted after %.0f s", other, stalledFor.Seconds()))
	b.res.add("state", "live client before the stalled streams", "payments/s", []float64{before}, fmt.Sprintf("offered %d/s to the raw topic", b.o.StateLiveRate))
	b.res.add("state", "live client while they are open", "payments/s", []float64{during}, fmt.Sprintf("offered %d/s; until every stalled stream was cut", b.o.StateLiveRate))
	return nil
}

// feed sends new payments at rate/s until ctx is done.
func (s *stateRun) feed(ctx context.Context, rate int) error {
	start := time.Now()
	sent := 0
	for ctx.Err() == nil {
		due := int(time.Since(start).Seconds() * float64(rate))
		for ; sent < due; sent++ {
			if err := s.sender.send(ctx, s.topic, s.gen.next()); err != nil {
				return err
			}
		}
		time.Sleep(time.Millisecond)
	}
	return s.sender.wait()
}

func (s *stateRun) waitClients(ctx context.Context, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if got, err := s.clients(ctx); err == nil && got >= n {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("server counts fewer than %d stream clients after %v: %w", n, timeout, errTimeout)
}

// stalledStreams are streams whose clients never call Recv until drain.
type stalledStreams struct {
	conns   []*grpc.ClientConn
	streams []pb.PaymentService_StreamPaymentsClient
	cancel  context.CancelFunc
}

func openStalled(ctx context.Context, addr string, n int) (*stalledStreams, error) {
	cctx, cancel := context.WithCancel(ctx)
	s := &stalledStreams{cancel: cancel}
	for range n {
		// Fixed windows: what a client that never reads holds up stays in
		// the server, not in this process's transport.
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))
		if err != nil {
			s.close()
			return nil, err
		}
		s.conns = append(s.conns, conn)
		st, err := pb.NewPaymentServiceClient(conn).StreamPayments(cctx, &pb.StreamPaymentsRequest{Start: pb.StartPosition_START_POSITION_EARLIEST})
		if err != nil {
			s.close()
			return nil, err
		}
		s.streams = append(s.streams, st)
	}
	return s, nil
}

var cursorInStatus = regexp.MustCompile(`resume with cursor (\S+)`)

// drain reads what each stream's transport holds, then its status: it
// counts the streams ended with RESOURCE_EXHAUSTED and the cursor of the
// last payment they received, and those that ended otherwise. A stream
// still open after a few seconds of reading counts as neither.
func (s *stalledStreams) drain() (cut, other int) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, st := range s.streams {
		wg.Go(func() {
			var last string
			deadline := time.Now().Add(10 * time.Second)
			for time.Now().Before(deadline) {
				resp, err := st.Recv()
				if err == nil {
					last = resp.GetCursor()
					continue
				}
				m := cursorInStatus.FindStringSubmatch(status.Convert(err).Message())
				mu.Lock()
				if status.Code(err) == codes.ResourceExhausted && m != nil && m[1] == last {
					cut++
				} else if !errors.Is(err, context.Canceled) {
					other++
				}
				mu.Unlock()
				return
			}
		})
	}
	// A stream the server never cut would keep delivering: stop it.
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		s.cancel()
		<-done
	}
	return cut, other
}

func (s *stalledStreams) close() {
	s.cancel()
	for _, c := range s.conns {
		c.Close()
	}
}

// ── payments ────────────────────────────────────────────────────────────

// stripeSucceeded makes Stripe payment_intent.succeeded records with
// distinct payment and event ids: one synthetic record is the template,
// whose ids are replaced by numbered ones of the same length (rendering
// millions of events would cost the bench as much CPU as the server).
type stripeSucceeded struct {
	parts [][]byte // the template split at its ids
	ids   []bool   // true: a payment id goes between parts i and i+1; false: an event id
	n     int      // records made so far
}

func newStripeSucceeded() (*stripeSucceeded, error) {
	gen, err := synthetic.New(synthetic.Options{Seed: 13, Gateways: []pb.Gateway{pb.Gateway_GATEWAY_STRIPE}, Mix: synthetic.MixSimple})
	if err != nil {
		return nil, err
	}
	r, err := gen.Next()
	if err != nil {
		return nil, err
	}
	if !bytes.Contains(r.Value, []byte(`"payment_intent.succeeded"`)) {
		return nil, fmt.Errorf("the template is not a payment_intent.succeeded: %s", r.Value)
	}
	g := &stripeSucceeded{}
	rest := r.Value
	for {
		pi, ev := bytes.Index(rest, []byte(r.Payment.ID)), bytes.Index(rest, []byte(r.Step.EventID))
		if pi < 0 && ev < 0 {
			break
		}
		if ev < 0 || (pi >= 0 && pi < ev) {
			g.parts, g.ids = append(g.parts, rest[:pi]), append(g.ids, true)
			rest = rest[pi+len(r.Payment.ID):]
		} else {
			g.parts, g.ids = append(g.parts, rest[:ev]), append(g.ids, false)
			rest = rest[ev+len(r.Step.EventID):]
		}
	}
	g.parts = append(g.parts, rest)
	if len(r.Payment.ID) != len("pi_")+24 || len(r.Step.EventID) != len("evt_")+24 || !slices.Contains(g.ids, true) {
		return nil, fmt.Errorf("unexpected Stripe ids %q, %q", r.Payment.ID, r.Step.EventID)
	}
	return g, nil
}

// next returns the next payment: pi_bench…<n>, event evt_bench…<n>.
func (g *stripeSucceeded) next() synthetic.Record {
	g.n++
	id := fmt.Sprintf("pi_bench%019d", g.n)
	ev := fmt.Sprintf("evt_bench%019d", g.n)
	v := make([]byte, 0, 1024)
	for i, p := range g.parts {
		v = append(v, p...)
		if i < len(g.ids) {
			if g.ids[i] {
				v = append(v, id...)
			} else {
				v = append(v, ev...)
			}
		}
	}
	return synthetic.Record{Gateway: pb.Gateway_GATEWAY_STRIPE, Header: "stripe", Key: id, Value: v}
}

// ── figures ─────────────────────────────────────────────────────────────

func mb(kb int64) float64 { return float64(kb) / 1024 }

// count prints a payment count the way the issue does: 1M, 2M, 300k, 4000.
func count(n int) string {
	switch {
	case n >= 1e6 && n%100000 == 0:
		return strconv.FormatFloat(float64(n)/1e6, 'f', -1, 64) + "M"
	case n >= 1e4 && n%1000 == 0:
		return strconv.Itoa(n/1000) + "k"
	}
	return strconv.Itoa(n)
}

// issueSize is the payment count at which issue 13 sets its memory and
// restart targets (and the growth target from half of it).
const issueSize = 2000000

// targetAt is whether a figure is measured where its target is set: the
// issue's size (or more), and the issue's other conditions (ok).
type targetAt int

const (
	targetFewer targetAt = iota // measured at fewer payments than the target's
	targetOff                   // not the figure the target is about
	targetHere                  // compare
)

func atIssueSize(n int, ok bool) targetAt {
	switch {
	case !ok:
		return targetOff
	case n < issueSize:
		return targetFewer
	}
	return targetHere
}

// growthTarget is target for the RSS growth, set from 1M to 2M payments.
func growthTarget(lo, hi int, growth float64) string {
	if lo != issueSize/2 || hi != issueSize {
		return fmt.Sprintf("target ≤ 32 MB is set at %s → %s payments (-state-payments 1000000,2000000)", count(issueSize/2), count(issueSize))
	}
	return target(targetHere, growth, 32, "MB", "")
}

// target says how a figure stands against the issue's target (reported,
// never asserted), after note.
func target(at targetAt, v, limit float64, unit, note string) string {
	switch at {
	case targetOff:
		return note
	case targetFewer:
		s := fmt.Sprintf("target ≤ %g %s is set at %s payments (-state-payments 1000000,2000000)", limit, unit, count(issueSize))
		if note != "" {
			s += "; " + note
		}
		return s
	}
	verdict := "met"
	if math.IsNaN(v) || v > limit {
		verdict = "NOT met"
	}
	s := fmt.Sprintf("target ≤ %g %s: %s", limit, unit, verdict)
	if note != "" {
		s += "; " + note
	}
	return s
}
