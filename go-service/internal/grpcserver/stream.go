package grpcserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/paymentgateway/aggregator/go-service/internal/stream"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

// StreamPayments sends matching payments until the client goes away.
//
// Sending runs in a goroutine of its own (the pump) while the handler
// watches: a client that stops reading blocks only its own pump, never the
// hub or other clients, and costs no memory beyond the shared window. When
// it falls a whole window behind, the handler ends the stream with
// RESOURCE_EXHAUSTED and the cursor of the last payment sent; the client
// resumes from it. The pump never starts a Send once the handler has
// returned; a Send already blocked then fails when gRPC tears the stream down.
func (s *Service) StreamPayments(req *pb.StreamPaymentsRequest, out grpc.ServerStreamingServer[pb.StreamPaymentsResponse]) error {
	ctx := out.Context()
	peer := peerAddr(ctx)
	accept, err := newFilter(req)
	if err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	if s.stopped.Load() {
		return status.Error(codes.Unavailable, "server is shutting down; connect to another instance or retry")
	}
	select {
	case s.slots <- struct{}{}:
	default:
		s.obs.StreamRejected("too_many_streams")
		s.log.Warn("Stream refused: too many streams", "component", "SERVER", "peer", peer, "limit", cap(s.slots))
		return status.Errorf(codes.ResourceExhausted, "too many streams: this server serves at most %d at once; retry later or connect to another instance", cap(s.slots))
	}
	sub, from, err := s.subscribe(ctx, req, accept)
	if err != nil {
		<-s.slots
		return err
	}
	// Response headers now, not with the first payment (which may be long in
	// coming): they tell the client its stream was accepted.
	if err := out.SendHeader(nil); err != nil {
		sub.Close()
		<-s.slots
		return err
	}
	id := strconv.FormatUint(s.nextID.Add(1), 10)
	log := s.log.With("component", "SERVER", "peer", peer, "stream", id)
	log.Info("Client connected", "from", from, "filter", describeFilter(req))
	s.obs.StreamFill(id, peer, 0) // every open stream has its series from the start

	st := &sendState{began: time.Now()}
	st.last.Store(sub.Cursor()) // nothing sent yet: resuming from here misses nothing
	pumpCtx, cancel := context.WithCancel(ctx)
	pumpErr := make(chan error, 1)
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		pumpErr <- s.pump(pumpCtx, sub, out, st)
	}()
	defer func() {
		st.close() // from here on the pump starts no Send
		cancel()
		go func() {
			// The pump leaves Next at once; a Send blocked on a client that
			// does not read fails as soon as gRPC tears the stream down,
			// right after this handler returns.
			<-exited
			sub.Close()
			<-s.slots
		}()
	}()

	tick := time.NewTicker(s.watchEvery)
	defer tick.Stop()
	var sentAtLastTick uint64
	for {
		select {
		case err := <-pumpErr:
			return s.ended(ctx, log, id, peer, st, err)
		case <-ctx.Done():
			return s.ended(ctx, log, id, peer, st, ctx.Err())
		case <-s.shutdown:
			s.obs.StreamEnded(id, peer, "shutdown")
			log.Info("Stream closed: server shutting down", "sent", st.sent.Load(), "cursor", st.cursor())
			return status.Errorf(codes.Unavailable, "server is shutting down; resume with cursor %s (the last payment sent) on another instance or after restart", st.cursor())
		case <-tick.C:
			behind, limit := sub.Behind()
			if limit <= 0 {
				continue
			}
			s.obs.StreamFill(id, peer, min(1, float64(behind)/float64(limit)))
			sent := st.sent.Load()
			stalled := sent == sentAtLastTick
			sentAtLastTick = sent
			// Past the limit the window has lapped it; at the limit with no
			// progress since the last look, it is stuck and about to be.
			// (A client replaying a full window keeps sending: not stuck.)
			if behind > limit || (behind >= limit && stalled) {
				return s.tooSlow(log, id, peer, st, behind, limit)
			}
		}
	}
}

// pump sends the subscription's payments until an error. It is the only
// goroutine that sends on out.
func (s *Service) pump(ctx context.Context, sub stream.Stream, out grpc.ServerStreamingServer[pb.StreamPaymentsResponse], st *sendState) error {
	for {
		e, cursor, err := sub.Next(ctx)
		if err != nil {
			return err
		}
		if !st.mayStart() {
			return context.Canceled
		}
		payment, err := e.Encoded()
		if err != nil {
			return err
		}
		// out.Send(&pb.StreamPaymentsResponse{...}) would encode the payment
		// again for every stream; see wire.go.
		if err := out.SendMsg(streamResponse(payment, cursor)); err != nil {
			return err
		}
		st.last.Store(cursor)
		st.sent.Add(1)
		s.obs.PaymentSent(e.Header, time.Now())
	}
}

// ended turns the pump's (or the context's) error into the stream's status.
func (s *Service) ended(ctx context.Context, log *slog.Logger, id, peer string, st *sendState, err error) error {
	switch {
	case errors.Is(err, stream.ErrLapped):
		return s.tooSlow(log, id, peer, st, -1, -1)
	case ctx.Err() != nil:
		s.obs.StreamEnded(id, peer, "client_gone")
		log.Info("Client disconnected", "sent", st.sent.Load(), "duration", time.Since(st.began).Round(time.Millisecond).String())
		return status.FromContextError(ctx.Err()).Err()
	case status.Code(err) != codes.Unknown:
		// Send failed: the transport is gone.
		s.obs.StreamEnded(id, peer, "client_gone")
		log.Info("Client disconnected", "sent", st.sent.Load(), "err", err.Error())
		return err
	}
	s.obs.StreamEnded(id, peer, "error")
	log.Warn("Stream failed", "sent", st.sent.Load(), "cursor", st.cursor(), "err", err.Error())
	return status.Errorf(codes.Unavailable, "stream interrupted (%v); resume with cursor %s (the last payment sent)", err, st.cursor())
}

func (s *Service) tooSlow(log *slog.Logger, id, peer string, st *sendState, behind, limit int) error {
	s.obs.StreamEnded(id, peer, "too_slow")
	cursor := st.cursor()
	log.Warn("Client too slow: stream cut off", "behind", behind, "limit", limit, "sent", st.sent.Load(), "cursor", cursor)
	how := "it fell a whole window behind"
	if limit > 0 {
		how = fmt.Sprintf("it was %d payments behind (limit %d)", behind, limit)
	}
	return status.Errorf(codes.ResourceExhausted, "client too slow: %s, so the server ended the stream; resume with cursor %s (the last payment sent)", how, cursor)
}

// sendState is what the handler and its pump share.
type sendState struct {
	began time.Time
	sent  atomic.Uint64
	last  atomic.Value // string: cursor after the last payment sent

	mu     sync.Mutex
	closed bool
}

func (st *sendState) cursor() string { return st.last.Load().(string) }

// mayStart reports whether a Send may begin: false once the handler is
// returning.
func (st *sendState) mayStart() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return !st.closed
}

func (st *sendState) close() {
	st.mu.Lock()
	st.closed = true
	st.mu.Unlock()
}

// describeFilter renders a request's filters for logs.
func describeFilter(req *pb.StreamPaymentsRequest) string {
	var parts []string
	if g := req.GetGateways(); len(g) > 0 {
		names := make([]string, len(g))
		for i, v := range g {
			names[i] = strings.TrimPrefix(v.String(), "GATEWAY_")
		}
		parts = append(parts, "gateways="+strings.Join(names, ","))
	}
	if c := req.GetCurrencies(); len(c) > 0 {
		parts = append(parts, "currencies="+strings.Join(c, ","))
	}
	if st := req.GetStatuses(); len(st) > 0 {
		names := make([]string, len(st))
		for i, v := range st {
			names[i] = strings.TrimPrefix(v.String(), "PAYMENT_STATUS_")
		}
		parts = append(parts, "statuses="+strings.Join(names, ","))
	}
	if len(parts) == 0 {
		return "all"
	}
	return strings.Join(parts, " ")
}
