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
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/joho/godotenv"
)

// Kafka is how to reach the cluster. With an API key and secret set the
// connection is SASL_SSL/PLAIN, as Confluent Cloud needs.
type Kafka struct {
	BootstrapServers string
	APIKey           string
	APISecret        string
	// CAFile is a PEM file of the CA certificates that sign the brokers'
	// certificates (a private CA, or the local broker's SASL_SSL listener).
	// Empty trusts the system's CAs, which is what Confluent Cloud needs.
	CAFile            string
	Partitions        int
	ReplicationFactor int
}

// Secure reports whether SASL credentials are set.
func (k Kafka) Secure() bool { return k.APIKey != "" }

// TLS reports whether the connection is encrypted: with SASL credentials,
// or with a CA file alone (a TLS-only cluster).
func (k Kafka) TLS() bool { return k.Secure() || k.CAFile != "" }

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

// RawTopicsDefault is the default of KAFKA_TOPICS: the course's single
// KAFKA_TOPIC when only that is set, else one raw topic per gateway.
func RawTopicsDefault() string {
	if one := os.Getenv("KAFKA_TOPIC"); one != "" && os.Getenv("KAFKA_TOPICS") == "" {
		return one
	}
	return strings.Join(DefaultRawTopics, ",")
}

// LoadDotEnv loads path (default .env) into the environment without
// overriding variables already set. A missing file is not an error. A
// syntax error names the line and the variable, never the file's text: a
// .env holds secrets, and godotenv's own errors quote what they read.
func LoadDotEnv(path string) error {
	if path == "" {
		path = ".env"
	}
	src, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", path, errors.Unwrap(err))
	}
	vars, err := godotenv.UnmarshalBytes(src)
	if err != nil {
		return fmt.Errorf("read %s: %s", path, describeSyntaxError(src))
	}
	for k, v := range vars {
		if _, set := os.LookupEnv(k); !set {
			if err := os.Setenv(k, v); err != nil {
				return fmt.Errorf("read %s: set %s: %w", path, k, err)
			}
		}
	}
	return nil
}

// describeSyntaxError says where a .env file stops parsing, without any of
// its values: the statement that fails starts on the line after the longest
// run of leading lines that parses (a quoted value may span lines).
func describeSyntaxError(src []byte) string {
	lines := strings.Split(strings.ReplaceAll(string(src), "\r\n", "\n"), "\n")
	good := 0
	for n := 1; n <= len(lines); n++ {
		if _, err := godotenv.Unmarshal(strings.Join(lines[:n], "\n") + "\n"); err == nil {
			good = n
		}
	}
	bad := min(good, len(lines)-1)
	msg := fmt.Sprintf("syntax error on line %d", bad+1)
	if name := dotEnvName(lines[bad]); name != "" {
		msg += " (variable " + name + ")"
	}
	return msg + ": want NAME=value, with quotes closed on the line they open or a later one"
}

// dotEnvNamePattern is what may be shown of a bad line: a plausible
// variable name before = or :. Anything else may be a value pasted alone.
var dotEnvNamePattern = regexp.MustCompile(`^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.\-]{0,63})\s*[=:]`)

func dotEnvName(line string) string {
	if m := dotEnvNamePattern.FindStringSubmatch(line); m != nil {
		return m[1]
	}
	return ""
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
	s.String(&k.CAFile, "kafka-ca-file", "KAFKA_CA_FILE", "", "PEM file of the CA that signs the brokers' certificates (private CA; empty trusts the system's); set alone, it turns on TLS without SASL")
	s.Int(&k.Partitions, "partitions", "KAFKA_PARTITIONS", 3, 1, 10000, "partitions of each topic the project creates")
	s.Int(&k.ReplicationFactor, "replication-factor", "KAFKA_REPLICATION_FACTOR", -1, -1, 32, "replication factor of created topics; -1 takes the broker's default")
	s.Check(func() error {
		if strings.TrimSpace(k.BootstrapServers) == "" {
			return errors.New("KAFKA_BOOTSTRAP_SERVERS is empty: set it to host:port")
		}
		if (k.APIKey == "") != (k.APISecret == "") {
			return errors.New("KAFKA_API_KEY and KAFKA_API_SECRET must be set together")
		}
		if k.CAFile != "" {
			if _, err := os.Stat(k.CAFile); err != nil {
				return fmt.Errorf("KAFKA_CA_FILE=%s: %w", k.CAFile, errors.Unwrap(err))
			}
		}
		return nil
	})
}

// SecretFromFile declares a secret that is set either directly (env, the
// flag name) or as a file holding it (fileEnv, the flag name + "-file"), as
// Kubernetes and Docker mount secrets. Both set is an error; one trailing
// newline (what editors and `echo` add) is trimmed from the file's content.
func (s *Set) SecretFromFile(p *string, name, env, fileEnv, usage string) {
	s.Secret(p, name, env, usage)
	var file string
	s.String(&file, name+"-file", fileEnv, "", "file holding "+env+" (a mounted secret); not both")
	s.Check(func() error {
		if file == "" {
			return nil
		}
		if *p != "" {
			return fmt.Errorf("%s and %s are both set: keep one", env, fileEnv)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("%s=%s: %w", fileEnv, file, errors.Unwrap(err))
		}
		v := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		if strings.TrimSpace(v) == "" {
			return fmt.Errorf("%s=%s: the file is empty", fileEnv, file)
		}
		*p = v
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
