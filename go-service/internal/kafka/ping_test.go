package kafka_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/paymentgateway/aggregator/go-service/internal/config"
	"github.com/paymentgateway/aggregator/go-service/internal/kafka"
	"github.com/paymentgateway/aggregator/go-service/internal/kafkatest"
)

func TestPingFailsFastWithoutABroker(t *testing.T) {
	// A port nothing listens on: connections are refused at once.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	p, err := kafka.NewPinger(config.Kafka{BootstrapServers: addr})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	began := time.Now()
	if err := p.Ping(context.Background(), time.Second); err == nil {
		t.Fatal("ping of a closed port succeeded")
	}
	if took := time.Since(began); took > 3*time.Second {
		t.Errorf("ping took %v, want about its timeout at most", took)
	}
	if up, err := p.Up(); up || err == nil {
		t.Errorf("Up() = %v, %v after a failed ping", up, err)
	}
}

func TestPingLocalBroker(t *testing.T) {
	p, err := kafka.NewPinger(kafkatest.Config(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Ping(context.Background(), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if up, _ := p.Up(); !up {
		t.Error("Up() = false after a good ping")
	}
}
