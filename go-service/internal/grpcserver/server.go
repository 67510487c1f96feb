// Package grpcserver serves payment.v1.PaymentService from the stream hub,
// plus the standard health and reflection services.
package grpcserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	"github.com/paymentgateway/aggregator/go-service/internal/stream"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

// IngestStats is what GetStats needs from the ingest stage.
type IngestStats interface {
	DLQByCode() map[string]int64
	SkippedCount() int64
	ConsumerLag() map[string]int64
}

// Service implements pb.PaymentServiceServer.
type Service struct {
	pb.UnimplementedPaymentServiceServer
	hub      *stream.Hub
	ingest   IngestStats
	log      *slog.Logger
	shutdown chan struct{}
}

// NewService returns the service over hub; ingest may be nil.
func NewService(hub *stream.Hub, ingest IngestStats, log *slog.Logger) *Service {
	return &Service{hub: hub, ingest: ingest, log: log, shutdown: make(chan struct{})}
}

// Register adds the payment, health and reflection services to gs and
// returns the health server, whose status the caller keeps up to date.
func (s *Service) Register(gs *grpc.Server) *health.Server {
	pb.RegisterPaymentServiceServer(gs, s)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(gs, hs)
	reflection.Register(gs)
	return hs
}

// Shutdown ends every open stream with UNAVAILABLE, so that clients resume
// from their cursor on another instance (or this one, restarted).
func (s *Service) Shutdown() { close(s.shutdown) }

// StreamPayments sends matching payments until the client goes away.
func (s *Service) StreamPayments(req *pb.StreamPaymentsRequest, out grpc.ServerStreamingServer[pb.StreamPaymentsResponse]) error {
	accept, err := newFilter(req)
	if err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	sub, err := s.subscribe(out.Context(), req, accept)
	if err != nil {
		return err
	}
	defer sub.Close()
	ctx, cancel := context.WithCancel(out.Context())
	defer cancel()
	go func() {
		select {
		case <-s.shutdown:
			cancel()
		case <-ctx.Done():
		}
	}()
	s.log.Info("Client connected", "component", "SERVER", "peer", peerAddr(out.Context()))
	for {
		e, cursor, err := sub.Next(ctx)
		switch {
		case errors.Is(err, stream.ErrLapped):
			return status.Errorf(codes.ResourceExhausted,
				"client fell more than the server's window behind; resume with the cursor of the last payment you received (server's last sent: %s)", sub.Cursor())
		case err != nil && out.Context().Err() != nil:
			s.log.Info("Client disconnected", "component", "SERVER", "peer", peerAddr(out.Context()))
			return status.FromContextError(out.Context().Err()).Err()
		case err != nil:
			return status.Errorf(codes.Unavailable, "server is shutting down; resume with the cursor of the last payment you received (server's last sent: %s)", sub.Cursor())
		}
		if err := out.Send(&pb.StreamPaymentsResponse{Payment: e.Payment, Cursor: cursor}); err != nil {
			return err
		}
	}
}

func (s *Service) subscribe(ctx context.Context, req *pb.StreamPaymentsRequest, accept func(*pb.Payment) bool) (stream.Stream, error) {
	var start stream.Start
	switch {
	case req.GetCursor() != "":
		pos, err := stream.ParseCursor(req.GetCursor())
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "cursor: %v: send back a cursor exactly as this service returned it", err)
		}
		start.Cursor = pos
	case req.GetSince() != nil:
		start.Since = req.GetSince().AsTime()
	case req.GetStart() == pb.StartPosition_START_POSITION_EARLIEST:
		start.Earliest = true
	}
	sub, err := s.hub.Open(ctx, start, accept)
	if errors.Is(err, stream.ErrOutOfWindow) {
		return nil, status.Error(codes.OutOfRange, "cursor: it points before what Kafka still holds; start again with START_POSITION_EARLIEST")
	}
	return sub, err
}

// GetPayment returns the latest state of one payment.
func (s *Service) GetPayment(_ context.Context, req *pb.GetPaymentRequest) (*pb.GetPaymentResponse, error) {
	if req.GetGateway() == pb.Gateway_GATEWAY_UNSPECIFIED || pb.Gateway_name[int32(req.GetGateway())] == "" {
		return nil, status.Errorf(codes.InvalidArgument, "gateway: %v is not a gateway", req.GetGateway())
	}
	if strings.TrimSpace(req.GetId()) == "" {
		return nil, status.Error(codes.InvalidArgument, "id: required")
	}
	p, ok := s.hub.Get(req.GetGateway(), req.GetId())
	if !ok {
		return nil, status.Errorf(codes.NotFound, "no %s payment with id %q", req.GetGateway(), req.GetId())
	}
	return &pb.GetPaymentResponse{Payment: p}, nil
}

// GetStats returns counters of the whole pipeline.
func (s *Service) GetStats(context.Context, *pb.GetStatsRequest) (*pb.GetStatsResponse, error) {
	snap := s.hub.Stats()
	resp := &pb.GetStatsResponse{
		PaymentsByGateway: snap.ByGateway,
		PaymentsByStatus:  snap.ByStatus,
		TotalsByCurrency:  snap.TotalsByCurrency,
		ConnectedClients:  int32(snap.ConnectedClients),
		PaymentsTotal:     snap.Payments,
		DuplicatesDropped: snap.Duplicates,
	}
	if s.ingest != nil {
		resp.DlqByCode = s.ingest.DLQByCode()
		for _, n := range resp.DlqByCode {
			resp.DlqCount += n
		}
		resp.SkippedCount = s.ingest.SkippedCount()
		resp.ConsumerLag = s.ingest.ConsumerLag()
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
