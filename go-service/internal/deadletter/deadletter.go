// Package deadletter is the contract of a dead-letter record's headers: the
// ingest stage writes them, the replay command reads them back. A dead letter
// keeps the raw record's own headers beside the ones that say why and where
// from, so that it can be sent back exactly as it came.
package deadletter

import (
	"strconv"
	"strings"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// The headers a dead letter carries besides the raw record's own.
const (
	HeaderError           = "error"      // a human sentence
	HeaderCode            = "error_code" // a normalizer.Code
	HeaderGateway         = "gateway"
	HeaderSourceTopic     = "source_topic"
	HeaderSourcePartition = "source_partition"
	HeaderSourceOffset    = "source_offset"
	// HeaderTruncated and HeaderOriginalSize mark a dead letter whose value
	// was cut to fit the dead-letter topic.
	HeaderTruncated    = "truncated"
	HeaderOriginalSize = "original_size"
)

// RawPrefix renames a raw header whose name a dead-letter header takes: the
// dead-letter header wins under its own name, the raw one is kept as
// "raw.<name>". A raw header whose name already starts with the prefix is
// renamed too, so that Split always gives back the raw headers as they were.
const RawPrefix = "raw."

// HeaderReplayedFrom is set by the replay command on a record it sends back
// to its raw topic: "<dlq topic>/<partition>/<offset>". It is a raw header, so
// a replayed record that fails again carries it into its new dead letter.
const HeaderReplayedFrom = "replayed_from"

var reserved = map[string]bool{
	HeaderError: true, HeaderCode: true, HeaderGateway: true, HeaderSourceTopic: true,
	HeaderSourcePartition: true, HeaderSourceOffset: true, HeaderTruncated: true, HeaderOriginalSize: true,
}

// Info is what a dead letter says about itself.
type Info struct {
	Error     string
	Code      string
	Gateway   string
	Topic     string // the raw topic the record came from
	Partition int32  // -1 when the header is missing or not a number
	Offset    int64  // -1 when the header is missing or not a number
	Truncated bool
}

// Headers returns a dead letter's headers: the raw record's own first
// (renamed where a dead-letter header takes the name), then why and where from.
func Headers(raw []ckafka.Header, info Info) []ckafka.Header {
	out := make([]ckafka.Header, 0, len(raw)+6)
	for _, h := range raw {
		if reserved[h.Key] || strings.HasPrefix(h.Key, RawPrefix) {
			h.Key = RawPrefix + h.Key
		}
		out = append(out, h)
	}
	return append(out,
		ckafka.Header{Key: HeaderError, Value: []byte(info.Error)},
		ckafka.Header{Key: HeaderCode, Value: []byte(info.Code)},
		ckafka.Header{Key: HeaderGateway, Value: []byte(info.Gateway)},
		ckafka.Header{Key: HeaderSourceTopic, Value: []byte(info.Topic)},
		ckafka.Header{Key: HeaderSourcePartition, Value: []byte(strconv.Itoa(int(info.Partition)))},
		ckafka.Header{Key: HeaderSourceOffset, Value: []byte(strconv.FormatInt(info.Offset, 10))},
	)
}

// Split is the inverse of Headers: what the dead letter says about itself,
// and the raw record's headers as they were, in their order.
func Split(headers []ckafka.Header) (Info, []ckafka.Header) {
	info := Info{Partition: -1, Offset: -1}
	var raw []ckafka.Header
	for _, h := range headers {
		switch {
		case strings.HasPrefix(h.Key, RawPrefix):
			h.Key = strings.TrimPrefix(h.Key, RawPrefix)
			raw = append(raw, h)
		case !reserved[h.Key]:
			raw = append(raw, h)
		default:
			info.set(h.Key, string(h.Value))
		}
	}
	return info, raw
}

func (info *Info) set(key, v string) {
	switch key {
	case HeaderError:
		info.Error = v
	case HeaderCode:
		info.Code = v
	case HeaderGateway:
		info.Gateway = v
	case HeaderSourceTopic:
		info.Topic = v
	case HeaderSourcePartition:
		if n, err := strconv.ParseInt(v, 10, 32); err == nil && n >= 0 {
			info.Partition = int32(n)
		}
	case HeaderSourceOffset:
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
			info.Offset = n
		}
	case HeaderTruncated:
		info.Truncated = v == "true"
	}
}

// Value returns the value of the first header named key, and whether there is one.
func Value(headers []ckafka.Header, key string) (string, bool) {
	for _, h := range headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}
