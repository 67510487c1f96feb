// Package grpcserver serves payment.v1.PaymentService from the stream hub,
// plus the standard health and reflection services, behind optional TLS and
// bearer-token authentication.
package grpcserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	"github.com/paymentgateway/aggregator/go-service/internal/state"
	"github.com/paymentgateway/aggregator/go-service/internal/stream"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

// IngestStats is what GetStats needs from this instance's ingest stage.
type IngestStats interface {
	SkippedCount() int64
	ConsumerLag() map[string]int64
}

// StateView is what GetPayment and GetStats read: the latest state of every
// payment and the counters over them, the same on every instance
// (state.View). The hub only streams.
type StateView interface {
	Get(g pb.Gateway, id string) (*pb.Payment, error) // state.ErrNotFound when unknown
	Totals() (state.Totals, error)
}

// Observer learns what the streams do; metrics hang here. Its methods must
// be fast and safe for concurrent use.
type Observer interface {
	// PaymentSent is called after each payment a stream has sent.
	PaymentSent(h stream.Header, at time.Time)
	// StreamFill reports how full a stream's share of the window is:
	// behind/limit, from 0 (keeping up) to 1 (about to be cut off).
	StreamFill(stream, peer string, fill float64)
	// StreamEnded is called once per stream that was opened, with why it
	// ended: client_gone, too_slow, shutdown or error.
	StreamEnded(stream, peer, reason string)
	// StreamRejected is called for a stream refused before it opened:
	// too_many_streams.
	StreamRejected(reason string)
}

type nopObserver struct{}

func (nopObserver) PaymentSent(stream.Header, time.Time) {}
func (nopObserver) StreamFill(string, string, float64)   {}
func (nopObserver) StreamEnded(string, string, string)   {}
func (nopObserver) StreamRejected(string)                {}

// Option configures a Service.
type Option func(*Service)

// WithMaxStreams caps how many StreamPayments calls run at once; the next
// one is refused with RESOURCE_EXHAUSTED. n <= 0 means DefaultMaxStreams.
func WithMaxStreams(n int) Option {
	return func(s *Service) {
		if n <= 0 {
			n = DefaultMaxStreams
		}
		s.slots = make(chan struct{}, n)
	}
}

// WithMaxHealthWatches caps concurrent grpc.health.v1 Watch streams; the
// next one is refused with RESOURCE_EXHAUSTED. n <= 0 means
// DefaultMaxHealthWatches.
func WithMaxHealthWatches(n int) Option {
	return func(s *Service) {
		if n <= 0 {
			n = DefaultMaxHealthWatches
		}
		s.healthWatches = n
	}
}

// WithObserver reports stream activity to o (metrics).
func WithObserver(o Observer) Option {
	return func(s *Service) {
		if o != nil {
			s.obs = o
		}
	}
}

// WithWatchdog sets how often each stream checks how far behind its client
// is (default 250ms).
func WithWatchdog(every time.Duration) Option {
	return func(s *Service) {
		if every > 0 {
			s.watchEvery = every
		}
	}
}

// DefaultMaxStreams is the default cap on concurrent StreamPayments calls.
const DefaultMaxStreams = 1000

// Service implements pb.PaymentServiceServer.
type Service struct {
	pb.UnimplementedPaymentServiceServer
	hub        *stream.Hub
	ingest     IngestStats
	state      StateView
	log        *slog.Logger
	obs        Observer
	slots      chan struct{} // one token per running stream
	watchEvery time.Duration
	// healthWatches caps open health Watch streams (health.go).
	healthWatches int
	nextID        atomic.Uint64
	shutdown      chan struct{}
	stopped       atomic.Bool
}

// NewService returns the service streaming from hub and answering
// GetPayment and GetStats from state; ingest may be nil.
func NewService(hub *stream.Hub, state StateView, ingest IngestStats, log *slog.Logger, opts ...Option) *Service {
	s := &Service{
		hub: hub, state: state, ingest: ingest, log: log, obs: nopObserver{},
		slots:         make(chan struct{}, DefaultMaxStreams),
		watchEvery:    250 * time.Millisecond,
		healthWatches: DefaultMaxHealthWatches,
		shutdown:      make(chan struct{}),
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Register adds the payment, health and reflection services to gs and
// returns the health server, whose status the caller keeps up to date. gs
// must be built with ServerOptions: its codec sends the streams' payments,
// which are encoded once for all streams (wire.go).
func (s *Service) Register(gs *grpc.Server) *health.Server {
	pb.RegisterPaymentServiceServer(gs, s)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(gs, healthService{Server: hs, shutdown: s.shutdown, slots: make(chan struct{}, s.healthWatches)})
	reflection.Register(gs)
	return hs
}

// Shutdown ends every open stream with UNAVAILABLE, so that clients resume
// from their cursor on another instance (or this one, restarted). New
// streams are refused with UNAVAILABLE from then on.
func (s *Service) Shutdown() {
	if s.stopped.CompareAndSwap(false, true) {
		close(s.shutdown)
	}
}

// MaxStreams is the cap on concurrent StreamPayments calls.
func (s *Service) MaxStreams() int { return cap(s.slots) }

func (s *Service) subscribe(ctx context.Context, req *pb.StreamPaymentsRequest, accept stream.Filter) (stream.Stream, string, error) {
	var start stream.Start
	from := "latest"
	switch {
	case req.GetCursor() != "":
		pos, err := stream.ParseCursor(req.GetCursor())
		if err != nil {
			return nil, "", status.Errorf(codes.InvalidArgument, "cursor: %v: send back a cursor exactly as this service returned it", err)
		}
		start.Cursor, from = pos, "cursor"
	case req.GetSince() != nil:
		start.Since, from = req.GetSince().AsTime(), "since "+req.GetSince().AsTime().UTC().Format(time.RFC3339)
	case req.GetStart() == pb.StartPosition_START_POSITION_EARLIEST:
		start.Earliest, from = true, "earliest"
	}
	sub, err := s.hub.Open(ctx, start, accept)
	switch {
	case errors.Is(err, stream.ErrPastEnd):
		return nil, "", status.Error(codes.OutOfRange, "cursor: it points past the end of the topic (a cursor from another cluster, or from a topic made again); start again with START_POSITION_EARLIEST or LATEST")
	case errors.Is(err, stream.ErrOutOfWindow):
		return nil, "", status.Error(codes.OutOfRange, "cursor: it points before what Kafka still holds; start again with START_POSITION_EARLIEST")
	case err != nil:
		return nil, "", status.Errorf(codes.Unavailable, "cannot open the stream now (%v); retry", err)
	}
	return sub, from, nil
}

// GetPayment returns the latest state of one payment.
func (s *Service) GetPayment(_ context.Context, req *pb.GetPaymentRequest) (*pb.GetPaymentResponse, error) {
	if req.GetGateway() == pb.Gateway_GATEWAY_UNSPECIFIED || pb.Gateway_name[int32(req.GetGateway())] == "" {
		return nil, status.Errorf(codes.InvalidArgument, "gateway: %v is not a gateway", req.GetGateway())
	}
	if strings.TrimSpace(req.GetId()) == "" {
		return nil, status.Error(codes.InvalidArgument, "id: required")
	}
	if len(req.GetId()) > maxIDLength {
		return nil, status.Errorf(codes.InvalidArgument, "id: at most %d bytes", maxIDLength)
	}
	p, err := s.state.Get(req.GetGateway(), req.GetId())
	switch {
	case errors.Is(err, state.ErrNotFound):
		return nil, status.Errorf(codes.NotFound, "no %s payment with id %q", req.GetGateway(), req.GetId())
	case err != nil:
		s.log.Error("GetPayment: "+err.Error(), "component", "SERVER")
		return nil, status.Error(codes.Unavailable, "the state store cannot be read now; retry")
	}
	return &pb.GetPaymentResponse{Payment: p}, nil
}

// maxIDLength bounds a payment id in a request; real ids are under 64 bytes.
const maxIDLength = 256

// GetStats returns counters of the whole pipeline.
func (s *Service) GetStats(context.Context, *pb.GetStatsRequest) (*pb.GetStatsResponse, error) {
	t, err := s.state.Totals()
	if err != nil {
		s.log.Error("GetStats: "+err.Error(), "component", "SERVER")
		return nil, status.Error(codes.Unavailable, "the state store cannot be read now; retry")
	}
	resp := &pb.GetStatsResponse{
		PaymentsByGateway: t.ByGateway,
		PaymentsByStatus:  t.ByStatus,
		TotalsByCurrency:  t.TotalsByCurrency,
		ConnectedClients:  int32(s.hub.Stats().ConnectedClients),
		PaymentsTotal:     t.Payments,
		DuplicatesDropped: t.Duplicates,
		DlqByCode:         t.DLQByCode, // from the DLQ topic: the same on every instance, across restarts
	}
	if s.ingest != nil {
		resp.SkippedCount = s.ingest.SkippedCount()
		resp.ConsumerLag = s.ingest.ConsumerLag()
	}
	for _, n := range resp.DlqByCode {
		resp.DlqCount += n
	}
	return resp, nil
}

func peerAddr(ctx context.Context) string {
	if p, ok := peerFrom(ctx); ok {
		return p
	}
	return "unknown"
}

var errListTooLong = fmt.Errorf("at most %d values", maxFilterValues)
