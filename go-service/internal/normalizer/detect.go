package normalizer

import (
	"bytes"
	"strings"

	"github.com/paymentgateway/aggregator/go-service/pb"
)

// DetectGateway tells which gateway a record came from: its `gateway` header,
// else the topic's suffix (payments.raw.stripe), else the payload's shape (the
// course's single mixed topic, payments.raw, carries all of them).
func DetectGateway(rec Record) (pb.Gateway, error) {
	if rec.GatewayHeader != "" {
		if g, ok := ParseGateway(rec.GatewayHeader); ok {
			return g, nil
		}
		return 0, errorf(CodeUnknownGateway, "gateway header %q names no supported gateway", rec.GatewayHeader)
	}
	if i := strings.LastIndexByte(rec.Topic, '.'); i >= 0 {
		if g, ok := ParseGateway(rec.Topic[i+1:]); ok {
			return g, nil
		}
	}
	if g, ok := gatewayFromShape(rec.Value); ok {
		return g, nil
	}
	return 0, errorf(CodeUnknownGateway, "no gateway header, topic %q names no gateway, and the payload matches no known webhook shape", rec.Topic)
}

// gatewayFromShape looks for a marker only one gateway's webhooks carry. It is
// a cheap byte search, not a parse: the normalizer validates properly after.
func gatewayFromShape(doc []byte) (pb.Gateway, bool) {
	has := func(marker string) bool { return bytes.Contains(doc, []byte(marker)) }
	switch {
	case has(`"notificationItems"`):
		return pb.Gateway_GATEWAY_ADYEN, true
	case has(`"event_type"`) && has(`"resource"`):
		return pb.Gateway_GATEWAY_PAYPAL, true
	// Razorpay before Square: a Razorpay note may well be called merchant_id.
	case has(`"entity"`) && has(`"payload"`):
		return pb.Gateway_GATEWAY_RAZORPAY, true
	case has(`"merchant_id"`) && has(`"event_id"`):
		return pb.Gateway_GATEWAY_SQUARE, true
	case has(`"object"`) && has(`"data"`) && has(`"type"`):
		return pb.Gateway_GATEWAY_STRIPE, true
	}
	return 0, false
}
