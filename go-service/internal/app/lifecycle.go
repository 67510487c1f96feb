package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"

	"github.com/paymentgateway/aggregator/go-service/internal/cmalloc"
	"github.com/paymentgateway/aggregator/go-service/internal/grpcserver"
	"github.com/paymentgateway/aggregator/go-service/internal/stream"
)

// start runs each stage and server in its own goroutine. They run on
// stageCtx, not on Start's context: only Wait cancels it, once the edge has
// stopped, so that a signal never cuts the ingest stage off mid-record.
func (a *App) start() {
	log := a.log
	stageCtx, stopStages := context.WithCancel(context.Background())
	errs := make(chan error, 8)
	ingestDone, stateDone := make(chan struct{}), make(chan struct{})
	// The state stage stops after ingest has drained: what ingest delivered
	// last is folded and committed before the state stage leaves its group.
	stateCtx, stopState := context.WithCancel(context.Background())
	go func() { defer close(ingestDone); errs <- wrap("ingest", a.ingester.Run(stageCtx)) }()
	go func() { defer close(stateDone); errs <- wrap("state", a.folder.Run(stateCtx)) }()
	viewDone := make(chan struct{})
	go func() { defer close(viewDone); errs <- wrap("view", a.view.Run(stageCtx)) }()
	go a.disk.Run(stageCtx, time.Second)
	go cmalloc.TrimEvery(stageCtx, 10*time.Second)
	go func() { errs <- wrap("serve", a.serve(stageCtx)) }()
	go func() { errs <- wrap("grpc", a.gs.Serve(a.lis)) }()
	if a.ms != nil {
		go func() { errs <- wrap("metrics", a.ms.Serve()) }()
	}
	if a.dash != nil {
		go func() { errs <- wrap("dashboard", a.dash.Serve()) }()
	}
	go a.pinger.Run(stageCtx, time.Second, 1500*time.Millisecond, func(up bool, err error) {
		switch {
		case !up:
			log.Warn("Kafka unreachable", "component", "KAFKA", "err", err.Error())
		case up && err == nil:
			log.Info("Kafka reachable", "component", "KAFKA")
		}
	})
	go grpcserver.WatchHealth(stageCtx, a.healthSrv, a.Ready, 500*time.Millisecond, log)
	log.Info("gRPC listening on :"+strconv.Itoa(a.lis.Addr().(*net.TCPAddr).Port)+describeSecurity(a.cfg.Security), "component", "SERVER")
	if a.ms != nil {
		log.Info(fmt.Sprintf("Metrics on http://%s/metrics (also /healthz, /readyz)", a.ms.Addr()), "component", "SERVER")
	}
	if a.dash != nil {
		log.Info("Dashboard on "+a.dash.URL(), "component", "SERVER")
	}
	a.stopStages, a.errs, a.ingestDone = stopStages, errs, ingestDone
	a.stopState, a.stateDone, a.viewDone = stopState, stateDone, viewDone
}

// Wait serves until Start's context is done or a stage fails, then stops
// everything, the edge first, and returns the stage's error (nil after a
// signal). Call it once.
func (a *App) Wait() error {
	log, grace := a.log, a.cfg.ShutdownGrace
	defer a.pinger.Close()
	defer a.closeStore()
	defer a.stopStages()
	defer a.stopState()
	var runErr error
	select {
	case <-a.ctx.Done():
		log.Info("Shutting down: draining in-flight records, closing streams...", "component", "SERVER")
	case runErr = <-a.errs:
		log.Error("stopping", "component", "SERVER", "err", runErr)
	}
	a.healthSrv.Shutdown() // NOT_SERVING: load balancers stop sending new clients
	a.svc.Shutdown()       // open streams end with UNAVAILABLE, clients resume elsewhere
	stopGRPC(a.gs, grace)
	if a.dash != nil {
		a.dash.Shutdown(2*time.Second, log) // after gs: its calls have ended with it
	}
	if a.ms != nil {
		a.ms.Shutdown(2*time.Second, log)
	}
	a.stopStages()
	select {
	case <-a.ingestDone:
	case <-time.After(grace + 5*time.Second):
		log.Warn("ingest did not drain in time; undelivered records will be consumed again", "component", "SERVER")
	}
	if left := a.producer.Close(grace); left > 0 {
		log.Warn(fmt.Sprintf("%d record(s) not acknowledged at exit; their raw offsets were not committed", left), "component", "SERVER")
	}
	a.stopState()
	select {
	case <-a.stateDone:
	case <-time.After(grace + 5*time.Second):
		log.Warn("state stage did not stop in time; its open transaction is aborted by Kafka and folded again", "component", "SERVER")
	}
	st := &a.ingester.Stats
	log.Info(fmt.Sprintf("Stopped. Ingested %d record(s): %d payment(s), %d to DLQ, %d skipped", st.In.Load(), st.Payments.Load(), st.DLQ.Load(), st.Skipped.Load()), "component", "SERVER")
	return runErr
}

// describeSecurity is the listening line's suffix: nothing for the course's
// plaintext server, else what is on. The token itself never appears.
func describeSecurity(c grpcserver.Security) string {
	var on []string
	if c.TLS() {
		on = append(on, "TLS")
	}
	if c.MutualTLS() {
		on = append(on, "client certificates required")
	}
	if c.AuthToken != "" {
		on = append(on, "token auth")
	}
	if len(on) == 0 {
		return ""
	}
	return " (" + strings.Join(on, ", ") + ")"
}

func stopGRPC(gs *grpc.Server, grace time.Duration) {
	done := make(chan struct{})
	go func() { gs.GracefulStop(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		gs.Stop()
	}
}

func wrap(stage string, err error) error {
	if err == nil || errors.Is(err, grpc.ErrServerStopped) {
		return nil
	}
	return fmt.Errorf("%s: %w", stage, err)
}

// closeStore closes the store once the state stage and the view, which write
// to it, have stopped.
func (a *App) closeStore() {
	for _, done := range []chan struct{}{a.stateDone, a.viewDone} {
		select {
		case <-done:
		case <-time.After(a.cfg.ShutdownGrace + 5*time.Second):
			a.log.Warn("a stage still writes to the store at exit; leaving it open (it recovers from Kafka at the next start)", "component", "SERVER")
			return
		}
	}
	if err := a.store.Close(); err != nil {
		a.log.Warn("closing the state store: "+err.Error(), "component", "SERVER")
	}
}

// serve runs the serve stage: the hub over the normalized topic.
func (a *App) serve(ctx context.Context) error {
	src, err := stream.NewKafkaSource(a.cfg.Kafka, a.cfg.NormalizedTopic, a.cfg.ServeQueueKB, a.log)
	if err != nil {
		return err
	}
	defer src.Close()
	return a.hub.Run(ctx, src, a.log)
}
