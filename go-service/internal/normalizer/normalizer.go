// Package normalizer turns one gateway's native webhook JSON into canonical
// payment.v1.Payment messages. It knows nothing of Kafka or gRPC: a Record in,
// Payments or a coded error out, so every gateway is testable from a file.
package normalizer

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/paymentgateway/aggregator/go-service/pb"
)

// MaxRecordBytes bounds the work one record can cause. A real webhook is a few
// KiB; anything this large is an attack or a bug, and goes to the DLQ unread.
const MaxRecordBytes = 1 << 20

// Record is a raw event as it came out of Kafka.
type Record struct {
	Topic     string
	Partition int32
	Offset    int64
	// GatewayHeader is the value of the record's `gateway` header, if any.
	GatewayHeader string
	Value         []byte
}

// A Normalizer understands one gateway's webhook format.
type Normalizer interface {
	Gateway() pb.Gateway
	// Normalize returns one Payment per payment change in the document
	// (one for most gateways, several for an Adyen notification batch).
	Normalize(doc []byte) ([]*pb.Payment, error)
}

var normalizers = map[pb.Gateway]Normalizer{
	pb.Gateway_GATEWAY_STRIPE:   Stripe{},
	pb.Gateway_GATEWAY_RAZORPAY: Razorpay{},
	pb.Gateway_GATEWAY_PAYPAL:   PayPal{},
	pb.Gateway_GATEWAY_ADYEN:    Adyen{},
	pb.Gateway_GATEWAY_SQUARE:   Square{},
}

// For returns the normalizer of a gateway.
func For(g pb.Gateway) (Normalizer, bool) {
	n, ok := normalizers[g]
	return n, ok
}

// Normalize finds the record's gateway, normalizes it, and stamps every
// Payment with where it came from. Errors are *Error (go to the DLQ) or wrap
// ErrIgnored (counted and skipped).
func Normalize(rec Record) ([]*pb.Payment, error) {
	if len(rec.Value) > MaxRecordBytes {
		return nil, errorf(CodeTooLarge, "record is %d bytes, more than the %d allowed", len(rec.Value), MaxRecordBytes)
	}
	gw, err := DetectGateway(rec)
	if err != nil {
		return nil, err
	}
	payments, err := normalizers[gw].Normalize(rec.Value)
	if err != nil {
		return nil, fmt.Errorf("normalize %s record %s/%d/%d: %w", GatewayName(gw), rec.Topic, rec.Partition, rec.Offset, err)
	}
	for i, p := range payments {
		p.Gateway = gw
		p.Source = &pb.Source{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset}
		if p.EventId == "" {
			p.EventId = recordHash(rec.Value, i)
		}
	}
	return payments, nil
}

// logDebug notes, at debug level, what a normalizer accepted but found odd.
// It reads the default logger when called, so it follows the binary's
// logging set-up (internal/logging).
func logDebug(msg string, args ...any) {
	slog.Default().Debug(msg, append([]any{"component", "KAFKA"}, args...)...)
}

// recordHash stands in for an event id when the gateway sends none: the same
// bytes always give the same id, so a redelivered record is still a duplicate.
func recordHash(value []byte, item int) string {
	h := sha256.New()
	h.Write(value)
	fmt.Fprintf(h, "#%d", item)
	return "sha256:" + hex.EncodeToString(h.Sum(nil)[:16])
}

// GatewayName is the lower-case name used in topics, headers and logs: "stripe".
func GatewayName(g pb.Gateway) string {
	return strings.ToLower(strings.TrimPrefix(g.String(), "GATEWAY_"))
}

// ParseGateway is the inverse of GatewayName.
func ParseGateway(name string) (pb.Gateway, bool) {
	v, ok := pb.Gateway_value["GATEWAY_"+strings.ToUpper(strings.TrimSpace(name))]
	if !ok || v == 0 {
		return pb.Gateway_GATEWAY_UNSPECIFIED, false
	}
	return pb.Gateway(v), true
}

// ErrIgnored marks an event that is valid but carries no payment change
// (Stripe customer.created, say): counted and skipped, not dead-lettered.
var ErrIgnored = errors.New("event carries no payment change")

// Code names why a record went to the dead-letter topic. The set is small and
// stable so that operators can alert on it.
type Code string

const (
	CodeMalformedJSON    Code = "malformed_json"    // the bytes are not JSON (or are truncated): nothing else is
	CodeUnknownGateway   Code = "unknown_gateway"   // header, topic and shape name no gateway we know
	CodeUnsupportedEvent Code = "unsupported_event" // an event type this gateway's normalizer does not know
	CodeMissingField     Code = "missing_field"     // a required field (id, amount, currency, …) is absent
	CodeInvalidField     Code = "invalid_field"     // JSON, but a field has the wrong type, a value the gateway's API does not have, or contradicts another
	CodeInvalidAmount    Code = "invalid_amount"    // negative, overflowing, fractional, too many decimals, or impossible under the gateway's rules
	CodeInvalidCurrency  Code = "invalid_currency"  // not an ISO 4217 code we know, or two amounts of one payment in different currencies
	CodeInvalidTime      Code = "invalid_timestamp" // a timestamp that can't be read
	CodeTooLarge         Code = "too_large"         // larger than MaxRecordBytes, or its payment larger than Kafka accepts
)

// Error is a record that cannot become a correct Payment.
type Error struct {
	Code Code
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

func errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// CodeOf returns the DLQ code of err, or "" if err is not a normalization error.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
