// Command replay sends dead letters back to the raw topic they came from,
// once the normalizer that refused them is fixed: chosen by error code,
// gateway, time or offsets; -dry-run says what today's normalizer would do
// with each and writes nothing.
//
// It is a binary of its own rather than a server subcommand: an operator
// runs it once against a cluster, it needs none of the server's gRPC, TLS or
// stream settings, and it ends when it is done.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/paymentgateway/aggregator/go-service/internal/config"
	"github.com/paymentgateway/aggregator/go-service/internal/logging"
	"github.com/paymentgateway/aggregator/go-service/internal/normalizer"
	"github.com/paymentgateway/aggregator/go-service/internal/replay"
)

type settings struct {
	opts      replay.Options
	all       bool
	logFormat string
}

func main() {
	logging.Main("replay", config.ErrHelp, run)
}

// parse reads the settings. The choice of dead letters (-code, -gateway,
// -since, -until, -offsets, -all) and -dry-run/-force come from flags only:
// left in a .env file they would quietly change what a later run sends.
func parse(args []string) (settings, error) {
	var s settings
	if err := config.LoadDotEnv(os.Getenv("ENV_FILE")); err != nil {
		return s, err
	}
	set := config.NewSet("replay", "Sends dead letters back to the raw topic they came from (their source_topic header), with their original bytes and raw headers\n"+
		"plus replayed_from: <dlq topic>/<partition>/<offset>. A dead letter that carries replayed_from (a replayed record that failed again)\n"+
		"or that the replay log names (sent back before) is skipped unless -force.")
	set.Kafka(&s.opts.Kafka)
	var codes, gateways, since, until, offsets string
	var idle int
	set.String(&s.opts.DLQTopic, "dlq-topic", "KAFKA_DLQ_TOPIC", config.DLQTopic, "dead-letter topic to read")
	set.String(&s.opts.LogTopic, "replay-log-topic", "REPLAY_LOG_TOPIC", "", "compacted topic recording what was replayed; empty: <dlq topic>.replayed")
	set.String(&codes, "code", "", "", "choose dead letters with these error_code values, comma-separated (malformed_json, unsupported_event, ...)")
	set.String(&gateways, "gateway", "", "", "choose dead letters of these gateways, comma-separated (stripe, razorpay, paypal, adyen, square)")
	set.String(&since, "since", "", "", "choose dead letters written at or after this time: RFC 3339 (2026-12-05T23:00:00Z) or a UTC date (2026-12-05)")
	set.String(&until, "until", "", "", "choose dead letters written before this time (same forms as -since)")
	set.String(&offsets, "offsets", "", "", "choose dead letters by DLQ position: PARTITION:FROM-TO, both ends included, either may be left out; comma-separated (0:100-250,2:7-)")
	set.Bool(&s.all, "all", "", false, "choose every dead letter (needed when no other choice is given)")
	set.Bool(&s.opts.DryRun, "dry-run", "", false, "write nothing: print what today's normalizer would do with each chosen dead letter")
	set.Bool(&s.opts.Force, "force", "", false, "replay also dead letters that were replayed before or came back after a replay (the loop guard)")
	set.Int(&idle, "read-timeout", "REPLAY_READ_TIMEOUT_SECONDS", 30, 1, 3600, "seconds to wait for the next dead letter before giving up while the DLQ is not read to the end it had at start")
	set.String(&s.logFormat, "log-format", "LOG_FORMAT", "text", "text or json")
	set.Check(func() error {
		var err error
		f := &s.opts.Filter
		f.Codes = config.SplitList(codes)
		for _, name := range config.SplitList(gateways) {
			g, ok := normalizer.ParseGateway(name)
			if !ok {
				return fmt.Errorf("-gateway: %q is not a gateway (stripe, razorpay, paypal, adyen, square)", name)
			}
			f.Gateways = append(f.Gateways, normalizer.GatewayName(g))
		}
		if f.Since, err = replay.ParseTime("since", since); err != nil {
			return err
		}
		if f.Until, err = replay.ParseTime("until", until); err != nil {
			return err
		}
		if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
			return fmt.Errorf("-until %s is not after -since %s", until, since)
		}
		if f.Offsets, err = replay.ParseOffsets(offsets); err != nil {
			return err
		}
		return replay.CheckSelection(*f, s.all)
	})
	err := set.Parse(args)
	if s.opts.LogTopic == "" {
		s.opts.LogTopic = s.opts.DLQTopic + ".replayed"
	}
	s.opts.IdleTimeout = time.Duration(idle) * time.Second
	s.opts.Progress = 2 * time.Second
	return s, err
}

func run(args []string) error {
	s, err := parse(args)
	if err != nil {
		return err
	}
	if err := logging.Setup(s.logFormat, os.Stdout); err != nil {
		return err
	}
	log := logging.For("REPLAY")
	s.opts.Log = log
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sum, err := replay.Run(ctx, s.opts)
	log.Info("Done: " + sum.String())
	return err
}
