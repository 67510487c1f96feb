package grpcserver

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"google.golang.org/grpc/peer"

	"github.com/paymentgateway/aggregator/go-service/internal/stream"
	"github.com/paymentgateway/aggregator/go-service/pb"
)

// maxFilterValues bounds the work one request can ask for.
const maxFilterValues = 64

var currencyCode = regexp.MustCompile(`^[A-Z]{3}$`)

// newFilter validates a request's filters and returns the predicate: AND
// across fields, OR within one; an empty list accepts everything.
func newFilter(req *pb.StreamPaymentsRequest) (stream.Filter, error) {
	if len(req.GetGateways()) > maxFilterValues {
		return nil, fmt.Errorf("gateways: %w", errListTooLong)
	}
	if len(req.GetCurrencies()) > maxFilterValues {
		return nil, fmt.Errorf("currencies: %w", errListTooLong)
	}
	if len(req.GetStatuses()) > maxFilterValues {
		return nil, fmt.Errorf("statuses: %w", errListTooLong)
	}
	gateways := map[pb.Gateway]bool{}
	for _, g := range req.GetGateways() {
		if g == pb.Gateway_GATEWAY_UNSPECIFIED || pb.Gateway_name[int32(g)] == "" {
			return nil, fmt.Errorf("gateways: %d is not a gateway", int32(g))
		}
		gateways[g] = true
	}
	currencies := map[string]bool{}
	for _, c := range req.GetCurrencies() {
		if !currencyCode.MatchString(c) {
			return nil, fmt.Errorf("currencies: %q is not an upper-case ISO 4217 code", c)
		}
		currencies[c] = true
	}
	statuses := map[pb.PaymentStatus]bool{}
	for _, s := range req.GetStatuses() {
		if s == pb.PaymentStatus_PAYMENT_STATUS_UNSPECIFIED || pb.PaymentStatus_name[int32(s)] == "" {
			return nil, fmt.Errorf("statuses: %d is not a payment status", int32(s))
		}
		statuses[s] = true
	}
	if req.GetStart() != pb.StartPosition_START_POSITION_UNSPECIFIED && pb.StartPosition_name[int32(req.GetStart())] == "" {
		return nil, fmt.Errorf("start: %d is not a start position", int32(req.GetStart()))
	}
	since := req.GetSince()
	if since != nil {
		if err := since.CheckValid(); err != nil {
			return nil, fmt.Errorf("since: %v", err)
		}
		// Kafka reads a negative timestamp in an offset lookup as "latest"
		// (-1) or "earliest" (-2), so a time before 1970 would start the
		// stream somewhere else than asked.
		if since.GetSeconds() < 0 {
			return nil, fmt.Errorf("since: %s is before 1970-01-01T00:00:00Z", since.AsTime().UTC().Format(time.RFC3339Nano))
		}
	}
	if req.GetCursor() != "" {
		since = nil // a cursor wins over since: resume exactly after it
	}
	return func(h stream.Header) bool {
		return (len(gateways) == 0 || gateways[h.Gateway]) &&
			(len(currencies) == 0 || currencies[h.Currency]) &&
			(len(statuses) == 0 || statuses[h.Status]) &&
			(since == nil || !h.UpdatedAt.Before(since.AsTime()))
	}, nil
}

func peerFrom(ctx context.Context) (string, bool) {
	p, ok := peer.FromContext(ctx)
	if !ok || p.Addr == nil {
		return "", false
	}
	return p.Addr.String(), true
}
