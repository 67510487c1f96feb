package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	ckafka "github.com/confluentinc/confluent-kafka-go/v2/kafka"

	"github.com/paymentgateway/aggregator/go-service/internal/config"
)

// librdkafka prints its own log lines (`%4|…|GETPID|…`) to stderr unless
// they are handed to the application. Every client this package configures
// sends them to one channel, and one goroutine writes them through slog as
// [KAFKA] lines, so that they follow LOG_FORMAT and the course's prefixes.
var (
	libLogs     = make(chan ckafka.LogEvent, 1024)
	libLogsOnce sync.Once
)

// logConfig is what makes a producer or consumer hand its log lines to us.
// Admin clients cannot take it (NewAdminClient rejects go.* settings): they
// are made from a producer by NewAdminClient below.
func logConfig() ckafka.ConfigMap {
	libLogsOnce.Do(func() { go forwardLogs(libLogs) })
	return ckafka.ConfigMap{"go.logs.channel.enable": true, "go.logs.channel": libLogs}
}

func forwardLogs(events <-chan ckafka.LogEvent) {
	for e := range events {
		LogEvent(slog.Default(), e)
	}
}

// LogEvent writes one librdkafka log line through log, at the level it
// deserves (LibrdkafkaLevel).
func LogEvent(log *slog.Logger, e ckafka.LogEvent) {
	log.Log(context.Background(), LibrdkafkaLevel(e), "librdkafka "+e.Tag+": "+strings.TrimSpace(e.Message),
		"component", "KAFKA", "client", e.Name)
}

// LibrdkafkaLevel maps a librdkafka line (syslog levels: 0 emergency … 3
// error, 4 warning, 5 notice, 6 info, 7 debug) to a slog level. Lines that
// only say "the broker is not there yet" are debug: the server says that in
// one line of its own ("Kafka unreachable"), and a broker that is starting
// up is not something a learner should be warned about. Authentication and
// TLS failures are never demoted: they need the user.
func LibrdkafkaLevel(e ckafka.LogEvent) slog.Level {
	if startupNoise(e) {
		return slog.LevelDebug
	}
	switch {
	case e.Level <= 3:
		return slog.LevelError
	case e.Level == 4:
		return slog.LevelWarn
	case e.Level == 5:
		return slog.LevelInfo
	default:
		return slog.LevelDebug
	}
}

// ErrorLevel is the level of a client's non-fatal error event: debug when
// it only says the broker is not there yet (the same rule as
// LibrdkafkaLevel), else warning.
func ErrorLevel(e ckafka.Error) slog.Level {
	if startupNoise(ckafka.LogEvent{Tag: "ERROR", Message: e.Error()}) {
		return slog.LevelDebug
	}
	return slog.LevelWarn
}

func startupNoise(e ckafka.LogEvent) bool {
	// Broker names carry their protocol (sasl_ssl://host:port/1), which
	// says nothing about what went wrong.
	msg := strings.NewReplacer("sasl_ssl://", "", "ssl://", "").Replace(strings.ToLower(e.Message))
	for _, never := range []string{"authentication", "ssl", "certificate", "sasl", "authoriz"} {
		if strings.Contains(msg, never) {
			return false
		}
	}
	switch e.Tag {
	case "GETPID": // idempotent producer: "Failed to acquire idempotence PID" while the broker starts; retried
		return true
	case "FAIL", "ERROR":
		for _, retried := range []string{"connection refused", "disconnected", "all brokers are down", "brokers are down", "coordinator load in progress", "not coordinator"} {
			if strings.Contains(msg, retried) {
				return true
			}
		}
	}
	return false
}

// Admin is an admin client whose log lines go through slog: it shares the
// connections of a small producer made for it.
type Admin struct {
	*ckafka.AdminClient
	p *ckafka.Producer
	k config.Kafka

	mu     sync.Mutex
	refuse error // the cluster refused our credentials or certificate
}

// NewAdminClient returns an admin client for k with extra settings.
func NewAdminClient(k config.Kafka, extra ckafka.ConfigMap) (*Admin, error) {
	p, err := ckafka.NewProducer(ConfigMap(k, extra))
	if err != nil {
		return nil, fmt.Errorf("kafka admin client: %w", err)
	}
	a, err := ckafka.NewAdminClientFromProducer(p)
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("kafka admin client: %w", err)
	}
	admin := &Admin{AdminClient: a, p: p, k: k}
	go admin.readEvents()
	return admin, nil
}

// readEvents reads the producer's event channel, which nothing else reads
// for an admin client, and keeps the errors that retrying cannot fix.
func (a *Admin) readEvents() {
	for ev := range a.p.Events() {
		if e, ok := ev.(ckafka.Error); ok {
			if err := refusal(a.k, e); err != nil {
				a.mu.Lock()
				a.refuse = err
				a.mu.Unlock()
			}
		}
	}
}

// refusal turns an authentication or TLS error into a one-line error that
// names the setting to fix. The secret's value is never part of it (nor of
// librdkafka's message).
func refusal(k config.Kafka, e ckafka.Error) error {
	switch e.Code() {
	case ckafka.ErrAuthentication:
		return refusedf("KAFKA_API_KEY/KAFKA_API_SECRET: %s refused the credentials (SASL authentication failed): check the API key and secret", k.BootstrapServers)
	case ckafka.ErrTransport:
		// TLS to a listener that does not speak it: waiting will not help.
		if strings.Contains(e.String(), "SSL handshake failed") && strings.Contains(e.String(), "PLAINTEXT") {
			return refusedf("TLS with %s failed: it is a plaintext listener (KAFKA_API_KEY and KAFKA_CA_FILE turn TLS on; the local broker's SASL_SSL listener is 127.0.0.1:9094)", k.BootstrapServers)
		}
	case ckafka.ErrSsl:
		if k.CAFile == "" {
			return refusedf("TLS with %s failed (a private CA? set KAFKA_CA_FILE): %s", k.BootstrapServers, e.Error())
		}
		return refusedf("KAFKA_CA_FILE=%s: TLS with %s failed: %s", k.CAFile, k.BootstrapServers, e.Error())
	}
	return nil
}

// refusedError is an error that waiting will not fix.
type refusedError struct{ msg string }

func (e refusedError) Error() string { return e.msg }

func refusedf(format string, args ...any) error { return refusedError{fmt.Sprintf(format, args...)} }

// Refused reports whether err says the cluster refused our credentials or
// certificate (rather than not answering).
func Refused(err error) bool {
	var r refusedError
	return errors.As(err, &r)
}

// Connect waits until a broker answers, or ctx ends. It fails at once when
// the cluster refuses the credentials or the certificate: a wrong secret
// stops the server at start with a line saying which setting is wrong.
func (a *Admin) Connect(ctx context.Context) error {
	for waited := false; ; waited = true {
		_, err := a.GetMetadata(nil, false, 500)
		if err == nil {
			return nil
		}
		a.mu.Lock()
		refused := a.refuse
		a.mu.Unlock()
		if refused != nil {
			return refused
		}
		if ctx.Err() != nil {
			return fmt.Errorf("kafka at %s: no broker answered: %w", a.k.BootstrapServers, err)
		}
		if !waited {
			// librdkafka's own retry lines are debug (LibrdkafkaLevel): say once what we wait for.
			slog.Default().Info("Waiting for Kafka at "+a.k.BootstrapServers+"...", "component", "KAFKA")
		}
	}
}

// Close closes the admin client and its producer.
func (a *Admin) Close() {
	a.AdminClient.Close()
	a.p.Close()
}
