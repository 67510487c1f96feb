package grpcserver

import (
	"context"
	"log/slog"
	"time"

	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/paymentgateway/aggregator/go-service/pb"
)

// ReadyFunc reports whether the server can do its job; when it cannot, why.
type ReadyFunc func() (ready bool, why string)

// WatchHealth keeps grpc.health.v1 truthful until ctx is done: every
// interval it asks ready and sets both the server's overall status ("") and
// payment.v1.PaymentService's to SERVING or NOT_SERVING, logging each change.
func WatchHealth(ctx context.Context, hs *health.Server, ready ReadyFunc, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	was, first := false, true
	for {
		ok, why := ready()
		st := healthpb.HealthCheckResponse_NOT_SERVING
		if ok {
			st = healthpb.HealthCheckResponse_SERVING
		}
		hs.SetServingStatus("", st)
		hs.SetServingStatus(pb.PaymentService_ServiceDesc.ServiceName, st)
		if ok != was || first {
			switch {
			case ok:
				log.Info("Health: SERVING", "component", "SERVER")
			case !first:
				log.Warn("Health: NOT_SERVING", "component", "SERVER", "why", why)
			}
			was, first = ok, false
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
