package grpcserver

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/paymentgateway/aggregator/go-service/pb"
)

func TestStreamResponseIsTheMessage(t *testing.T) {
	payments := []*pb.Payment{
		{},
		{Id: "pi_1", Gateway: pb.Gateway_GATEWAY_STRIPE, Amount: &pb.Money{AmountMinor: 5000, Currency: "USD"},
			Status: pb.PaymentStatus_PAYMENT_STATUS_COMPLETED, Metadata: map[string]string{"order": "A-1", "n": "1"},
			UpdatedAt: timestamppb.Now(), CustomerEmail: "a@example.com", EventId: "evt_1"},
	}
	for _, p := range payments {
		for _, cursor := range []string{"", "c1.MD0xMiwxPTQwLDI9Nw"} {
			encoded, err := proto.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			var got pb.StreamPaymentsResponse
			if err := proto.Unmarshal(streamResponse(encoded, cursor), &got); err != nil {
				t.Fatalf("streamResponse does not decode: %v", err)
			}
			want := &pb.StreamPaymentsResponse{Payment: p, Cursor: cursor}
			if !proto.Equal(&got, want) {
				t.Errorf("streamResponse decodes to %v; want %v", &got, want)
			}
		}
	}
}

func TestCodecSendsPreEncodedAsIs(t *testing.T) {
	c := newCodec()
	b := streamResponse([]byte{}, "c1.x")
	out, err := c.Marshal(b)
	if err != nil || string(out.Materialize()) != string(b) {
		t.Fatalf("codec changed a pre-encoded message: %v", err)
	}
	msg := &pb.StreamPaymentsResponse{Cursor: "c1.x"}
	out, err = c.Marshal(msg)
	want, _ := proto.Marshal(msg)
	if err != nil || string(out.Materialize()) != string(want) {
		t.Fatalf("codec does not marshal a proto message like proto.Marshal: %v", err)
	}
	var back pb.StreamPaymentsResponse
	if err := c.Unmarshal(out, &back); err != nil || back.GetCursor() != "c1.x" {
		t.Fatalf("codec does not unmarshal: %v", err)
	}
}
