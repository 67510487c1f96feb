package grpcserver

import (
	"context"
	"log/slog"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

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

// healthService is grpc-go's health server with Watch streams that end when
// the server shuts down. grpc-go's own Watch lasts until the client leaves,
// so one open Watch (a load balancer's, say) held GracefulStop for the whole
// grace period.
//
// Watch streams are also capped: health needs no token, so without a cap
// anyone who can connect could hold any number of them open.
type healthService struct {
	*health.Server
	shutdown <-chan struct{} // closed by Service.Shutdown
	slots    chan struct{}   // one per open Watch
}

// DefaultMaxHealthWatches is the default cap on concurrent health Watch
// streams, more than any set of load balancers and orchestrators needs.
const DefaultMaxHealthWatches = 100

var errTooManyWatches = status.Error(codes.ResourceExhausted, "too many health Watch streams open on this server: use Check, or retry later")

// Watch reports status changes until the client leaves or the server shuts
// down; then it makes sure NOT_SERVING was the last word and ends with
// UNAVAILABLE. Beyond the cap it refuses with RESOURCE_EXHAUSTED.
func (h healthService) Watch(req *healthpb.HealthCheckRequest, stream healthpb.Health_WatchServer) error {
	select {
	case h.slots <- struct{}{}:
		defer func() { <-h.slots }()
	default:
		return errTooManyWatches
	}
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	stopping := make(chan struct{})
	go func() {
		select {
		case <-h.shutdown:
			close(stopping)
			cancel()
		case <-ctx.Done():
		}
	}()
	w := &watchStream{Health_WatchServer: stream, ctx: ctx}
	err := h.Server.Watch(req, w)
	select {
	case <-stopping:
		if w.last != healthpb.HealthCheckResponse_NOT_SERVING {
			_ = stream.Send(&healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_NOT_SERVING})
		}
		return status.Error(codes.Unavailable, "server is shutting down")
	default:
		return err
	}
}

// watchStream is a Watch stream whose context ends at shutdown too, and
// which remembers the last status it sent.
type watchStream struct {
	healthpb.Health_WatchServer
	ctx  context.Context
	last healthpb.HealthCheckResponse_ServingStatus
}

func (w *watchStream) Context() context.Context { return w.ctx }

func (w *watchStream) Send(resp *healthpb.HealthCheckResponse) error {
	w.last = resp.GetStatus()
	return w.Health_WatchServer.Send(resp)
}
