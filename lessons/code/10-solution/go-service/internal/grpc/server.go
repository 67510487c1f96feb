// Package grpcserver implements payment.v1.PaymentService: it keeps the latest
// state of every payment and streams each new one to every connected client.
// (The folder is internal/grpc; the package has its own name so that it does
// not hide google.golang.org/grpc.)
package grpcserver

import (
	"context"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"example.com/pipeline/go-service/pb"
)

// subscriberBuffer is how many payments a stream may fall behind before it is
// cut off; a slow client must not hold up Publish for everyone else.
const subscriberBuffer = 256

type key struct {
	gateway pb.Gateway
	id      string
}

// Server is the PaymentService. Publish feeds it; each StreamPayments call
// reads from its own channel.
type Server struct {
	pb.UnimplementedPaymentServiceServer

	mu          sync.Mutex
	latest      map[key]*pb.Payment
	subscribers map[chan *pb.Payment]struct{}
	stopped     bool // set by Shutdown: no new streams
}

func New() *Server {
	return &Server{latest: map[key]*pb.Payment{}, subscribers: map[chan *pb.Payment]struct{}{}}
}

// Publish records p as its payment's latest state and hands it to every
// stream. A stream whose buffer is full is closed instead of waited for.
func (s *Server) Publish(p *pb.Payment) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latest[key{p.GetGateway(), p.GetId()}] = p
	for ch := range s.subscribers {
		select {
		case ch <- p:
		default:
			delete(s.subscribers, ch)
			close(ch)
		}
	}
}

func (s *Server) subscribe() chan *pb.Payment {
	ch := make(chan *pb.Payment, subscriberBuffer)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		close(ch)
		return ch
	}
	s.subscribers[ch] = struct{}{}
	return ch
}

// Shutdown ends every open stream, and every stream opened from now on,
// with UNAVAILABLE: the client knows to reconnect, to another instance or
// to this one restarted. Without it, GracefulStop would wait for streams
// that never end on their own.
func (s *Server) Shutdown() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = true
	for ch := range s.subscribers {
		delete(s.subscribers, ch)
		close(ch)
	}
}

// closedWhy is why a stream's channel was closed: the server is stopping,
// or the client fell too far behind.
func (s *Server) closedWhy() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return status.Error(codes.Unavailable, "server is shutting down; reconnect")
	}
	return status.Error(codes.ResourceExhausted, "the client fell too far behind; reconnect")
}

func (s *Server) unsubscribe(ch chan *pb.Payment) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.subscribers[ch]; ok {
		delete(s.subscribers, ch)
		close(ch)
	}
}

// StreamPayments sends every published payment that matches the request
// until the client goes away.
func (s *Server) StreamPayments(req *pb.StreamPaymentsRequest, stream grpc.ServerStreamingServer[pb.StreamPaymentsResponse]) error {
	ch := s.subscribe()
	defer s.unsubscribe(ch)
	// Response headers tell the client the stream is subscribed: whatever is
	// published from now on, it will see.
	if err := stream.SendHeader(metadata.MD{}); err != nil {
		return err
	}
	for {
		select {
		case <-stream.Context().Done():
			return status.FromContextError(stream.Context().Err()).Err()
		case p, ok := <-ch:
			if !ok {
				return s.closedWhy()
			}
			if !wanted(req, p) {
				continue
			}
			if err := stream.Send(&pb.StreamPaymentsResponse{Payment: p}); err != nil {
				return err
			}
		}
	}
}

func wanted(req *pb.StreamPaymentsRequest, p *pb.Payment) bool {
	if len(req.GetGateways()) == 0 {
		return true
	}
	for _, g := range req.GetGateways() {
		if g == p.GetGateway() {
			return true
		}
	}
	return false
}

// GetPayment returns the latest state of one payment.
func (s *Server) GetPayment(_ context.Context, req *pb.GetPaymentRequest) (*pb.GetPaymentResponse, error) {
	if req.GetId() == "" {
		return nil, status.Error(codes.InvalidArgument, "id is required")
	}
	s.mu.Lock()
	p, ok := s.latest[key{req.GetGateway(), req.GetId()}]
	s.mu.Unlock()
	if !ok {
		return nil, status.Errorf(codes.NotFound, "no payment %s from %s", req.GetId(), req.GetGateway())
	}
	return &pb.GetPaymentResponse{Payment: p}, nil
}
