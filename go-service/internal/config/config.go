// Package config reads every setting from the environment, with a .env file
// loaded first when present, and lets command-line flags override it. A bad
// value stops the binary with one line naming the setting.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/joho/godotenv"
)

// Kafka is how to reach the cluster. With an API key and secret set the
// connection is SASL_SSL/PLAIN, as Confluent Cloud needs.
type Kafka struct {
	BootstrapServers  string
	APIKey            string
	APISecret         string
	Partitions        int
	ReplicationFactor int
}

// Secure reports whether SASL credentials are set.
func (k Kafka) Secure() bool { return k.APIKey != "" }

// Topic names shared by the producer and the server.
const (
	RawTopicPrefix  = "payments.raw."
	MixedRawTopic   = "payments.raw"
	EventsTopic     = "payments.events"
	NormalizedTopic = "payments.normalized"
	StateTopic      = "payments.state"
	DLQTopic        = "payments.dlq"
)

// DefaultRawTopics is one raw topic per gateway.
var DefaultRawTopics = []string{
	RawTopicPrefix + "stripe", RawTopicPrefix + "razorpay", RawTopicPrefix + "paypal",
	RawTopicPrefix + "adyen", RawTopicPrefix + "square",
}

// LoadDotEnv loads path (default .env) into the environment without
// overriding variables already set. A missing file is not an error.
func LoadDotEnv(path string) error {
	if path == "" {
		path = ".env"
	}
	err := godotenv.Load(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return nil
}

// Set declares settings on a FlagSet whose defaults come from the
// environment. Errors in environment values are collected and reported by
// Parse, so that all settings are declared first.
type Set struct {
	fs     *flag.FlagSet
	errs   []error
	checks []func() error
	env    []envDoc
}

type envDoc struct{ flag, env string }

// NewSet returns a Set for the named binary, with usage text listing the
// environment variable behind each flag.
func NewSet(name, about string) *Set {
	s := &Set{fs: flag.NewFlagSet(name, flag.ContinueOnError)}
	s.fs.Usage = func() {
		out := s.fs.Output()
		fmt.Fprintf(out, "%s\n\nUsage: %s [flags]\n\nFlags (each defaults to the environment variable named in brackets; go-service/.env is read first):\n", about, name)
		s.fs.PrintDefaults()
	}
	return s
}

func (s *Set) usage(usage, env string) string {
	if env == "" {
		return usage
	}
	s.env = append(s.env, envDoc{env: env})
	return fmt.Sprintf("%s [%s]", usage, env)
}

// String declares a string setting.
func (s *Set) String(p *string, name, env, def, usage string) {
	if v, ok := lookup(env); ok {
		def = v
	}
	s.fs.StringVar(p, name, def, s.usage(usage, env))
}

// Secret declares a string setting whose value never appears in help text.
func (s *Set) Secret(p *string, name, env, usage string) {
	def, _ := lookup(env)
	s.fs.Func(name, s.usage(usage, env), func(v string) error { *p = v; return nil })
	*p = def
}

// Int declares an integer setting checked against [min, max].
func (s *Set) Int(p *int, name, env string, def, min, max int, usage string) {
	if v, ok := lookup(env); ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < min || n > max {
			s.errs = append(s.errs, fmt.Errorf("%s=%q: want a whole number from %d to %d", env, v, min, max))
		} else {
			def = n
		}
	}
	s.fs.IntVar(p, name, def, s.usage(usage, env))
	s.checks = append(s.checks, func() error {
		if *p < min || *p > max {
			return fmt.Errorf("-%s %d: want a whole number from %d to %d", name, *p, min, max)
		}
		return nil
	})
}

// Float declares a float setting checked against [min, max].
func (s *Set) Float(p *float64, name, env string, def, min, max float64, usage string) {
	if v, ok := lookup(env); ok {
		n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || n < min || n > max {
			s.errs = append(s.errs, fmt.Errorf("%s=%q: want a number from %v to %v", env, v, min, max))
		} else {
			def = n
		}
	}
	s.fs.Float64Var(p, name, def, s.usage(usage, env))
	s.checks = append(s.checks, func() error {
		if *p < min || *p > max {
			return fmt.Errorf("-%s %v: want a number from %v to %v", name, *p, min, max)
		}
		return nil
	})
}

// Duration declares a duration setting ("168h", "50ms") checked against [min, max].
func (s *Set) Duration(p *time.Duration, name, env string, def, min, max time.Duration, usage string) {
	if v, ok := lookup(env); ok {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil || d < min || d > max {
			s.errs = append(s.errs, fmt.Errorf("%s=%q: want a duration from %v to %v, such as 168h or 50ms", env, v, min, max))
		} else {
			def = d
		}
	}
	s.fs.DurationVar(p, name, def, s.usage(usage, env))
	s.checks = append(s.checks, func() error {
		if *p < min || *p > max {
			return fmt.Errorf("-%s %v: want a duration from %v to %v", name, *p, min, max)
		}
		return nil
	})
}

// Bool declares a boolean flag.
func (s *Set) Bool(p *bool, name, env string, def bool, usage string) {
	if v, ok := lookup(env); ok {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			s.errs = append(s.errs, fmt.Errorf("%s=%q: want true or false", env, v))
		} else {
			def = b
		}
	}
	s.fs.BoolVar(p, name, def, s.usage(usage, env))
}

// Check adds a validation run after parsing, for settings that depend on each other.
func (s *Set) Check(f func() error) { s.checks = append(s.checks, f) }

// Kafka declares the connection settings every binary shares.
func (s *Set) Kafka(k *Kafka) {
	s.String(&k.BootstrapServers, "bootstrap-servers", "KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092", "Kafka bootstrap servers, host:port[,host:port]")
	s.String(&k.APIKey, "kafka-api-key", "KAFKA_API_KEY", "", "SASL username (Confluent Cloud API key); set it to use SASL_SSL")
	s.Secret(&k.APISecret, "kafka-api-secret", "KAFKA_API_SECRET", "SASL password (Confluent Cloud API secret)")
	s.Int(&k.Partitions, "partitions", "KAFKA_PARTITIONS", 3, 1, 10000, "partitions of each topic the project creates")
	s.Int(&k.ReplicationFactor, "replication-factor", "KAFKA_REPLICATION_FACTOR", -1, -1, 32, "replication factor of created topics; -1 takes the broker's default")
	s.Check(func() error {
		if strings.TrimSpace(k.BootstrapServers) == "" {
			return errors.New("KAFKA_BOOTSTRAP_SERVERS is empty: set it to host:port")
		}
		if (k.APIKey == "") != (k.APISecret == "") {
			return errors.New("KAFKA_API_KEY and KAFKA_API_SECRET must be set together")
		}
		return nil
	})
}

// ErrHelp is returned by Parse when -h was asked for and usage was printed.
var ErrHelp = flag.ErrHelp

// Parse parses args and runs every check. The error is one line.
func (s *Set) Parse(args []string) error {
	s.fs.SetOutput(io.Discard)
	err := s.fs.Parse(args)
	s.fs.SetOutput(os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		s.fs.SetOutput(os.Stdout)
		s.fs.Usage()
		return ErrHelp
	}
	if err != nil {
		return fmt.Errorf("%w (run with -h for help)", err)
	}
	if s.fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (run with -h for help)", s.fs.Arg(0))
	}
	if len(s.errs) > 0 {
		return s.errs[0]
	}
	for _, check := range s.checks {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

// SplitList splits a comma-separated list, dropping blanks.
func SplitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func lookup(env string) (string, bool) {
	if env == "" {
		return "", false
	}
	v, ok := os.LookupEnv(env)
	return v, ok && v != ""
}
