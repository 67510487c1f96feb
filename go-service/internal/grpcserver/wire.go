package grpcserver

import (
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	protocodec "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/paymentgateway/aggregator/go-service/pb"
)

// A stream sends every payment to every client with a cursor of its own,
// so the response message differs per stream and grpc.PreparedMsg (one
// encoding for many streams) does not fit. What all streams share is the
// payment itself: streamResponse appends the cursor to the payment's wire
// form, encoded once per payment (stream.Entry.Encoded), and the codec sends
// those bytes as they are. Fields of a protobuf message may be written one
// after another like this; the result is what proto.Marshal would give.

// preEncoded is a message already in protobuf wire form.
type preEncoded []byte

// codec is gRPC's protobuf codec that also sends preEncoded messages as
// they are.
type codec struct{ encoding.CodecV2 }

func (c codec) Marshal(v any) (mem.BufferSlice, error) {
	if b, ok := v.(preEncoded); ok {
		return mem.BufferSlice{mem.SliceBuffer(b)}, nil
	}
	return c.CodecV2.Marshal(v)
}

// codecOption installs codec on a server.
func codecOption() grpc.ServerOption { return grpc.ForceServerCodecV2(newCodec()) }

func newCodec() codec { return codec{encoding.GetCodecV2(protocodec.Name)} }

// Field numbers of StreamPaymentsResponse, from its descriptor.
var (
	responseFields = (&pb.StreamPaymentsResponse{}).ProtoReflect().Descriptor().Fields()
	paymentField   = responseFields.ByName("payment").Number()
	cursorField    = responseFields.ByName("cursor").Number()
)

// streamResponse is StreamPaymentsResponse{Payment: payment, Cursor: cursor}
// in wire form, payment being the Payment's own wire form.
func streamResponse(payment []byte, cursor string) preEncoded {
	b := make([]byte, 0, len(payment)+len(cursor)+2*(1+protowire.SizeVarint(uint64(len(payment)))))
	b = protowire.AppendTag(b, paymentField, protowire.BytesType)
	b = protowire.AppendBytes(b, payment)
	b = protowire.AppendTag(b, cursorField, protowire.BytesType)
	b = protowire.AppendString(b, cursor)
	return b
}
