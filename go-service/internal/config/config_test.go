package config

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const dotEnvSecret = "sk_live_51HxSECRETdoNotPrint"

func TestLoadDotEnvSyntaxErrorNamesLineNotValue(t *testing.T) {
	cases := []struct {
		name     string
		file     string
		wantLine string
		wantName string
	}{
		{"unterminated quote", "KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092\n# the key\nKAFKA_API_SECRET=\"" + dotEnvSecret + "\nGRPC_PORT=50051\n", "line 3", "KAFKA_API_SECRET"},
		{"bad character in name", "A=1\nB=\"multi\nline\"\nMY-KEY=" + dotEnvSecret + "\n", "line 4", "MY-KEY"},
		{"value pasted alone", "GRPC_PORT=50051\n" + dotEnvSecret + "\n", "line 2", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), ".env")
			if err := os.WriteFile(path, []byte(tc.file), 0o600); err != nil {
				t.Fatal(err)
			}
			err := LoadDotEnv(path)
			if err == nil {
				t.Fatal("LoadDotEnv accepted a file with a syntax error")
			}
			msg := err.Error()
			if strings.Contains(msg, "sk_live") || strings.Contains(msg, "SECRET") && !strings.Contains(tc.wantName, "SECRET") {
				t.Fatalf("error shows the file's text: %s", msg)
			}
			if strings.Contains(msg, dotEnvSecret) {
				t.Fatalf("error shows the secret: %s", msg)
			}
			if !strings.Contains(msg, tc.wantLine) || (tc.wantName != "" && !strings.Contains(msg, "variable "+tc.wantName)) {
				t.Fatalf("error %q should name %s and variable %q", msg, tc.wantLine, tc.wantName)
			}
			if strings.Contains(msg, "\n") {
				t.Fatalf("error is not one line: %q", msg)
			}
		})
	}
}

func TestLoadDotEnvSetsOnlyUnsetVariables(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(path, []byte("PAYAGG_TEST_A=from-file\nPAYAGG_TEST_B=\"two\nlines\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PAYAGG_TEST_A", "from-env")
	t.Setenv("PAYAGG_TEST_B", "")
	os.Unsetenv("PAYAGG_TEST_B")
	if err := LoadDotEnv(path); err != nil {
		t.Fatal(err)
	}
	if got := os.Getenv("PAYAGG_TEST_A"); got != "from-env" {
		t.Errorf("PAYAGG_TEST_A = %q: the environment must win over .env", got)
	}
	if got := os.Getenv("PAYAGG_TEST_B"); got != "two\nlines" {
		t.Errorf("PAYAGG_TEST_B = %q", got)
	}
	if err := LoadDotEnv(filepath.Join(t.TempDir(), "missing.env")); err != nil {
		t.Errorf("a missing .env is not an error: %v", err)
	}
}

func TestSecretFromFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name, env, file string
		want, wantErr   string
	}{
		{name: "from env", env: "tok-env", want: "tok-env"},
		{name: "from file, newline trimmed", file: write("nl", "tok-file\n"), want: "tok-file"},
		{name: "from file, CRLF trimmed", file: write("crlf", "tok-file\r\n"), want: "tok-file"},
		{name: "inner spaces kept", file: write("sp", "tok file"), want: "tok file"},
		{name: "both set", env: "tok-env", file: write("both", "tok-file"), wantErr: "PAYAGG_TOKEN and PAYAGG_TOKEN_FILE are both set: keep one"},
		{name: "empty file", file: write("empty", "\n"), wantErr: "the file is empty"},
		{name: "missing file", file: filepath.Join(dir, "nope"), wantErr: "PAYAGG_TOKEN_FILE=" + filepath.Join(dir, "nope") + ": no such file or directory"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("PAYAGG_TOKEN", tc.env)
			t.Setenv("PAYAGG_TOKEN_FILE", tc.file)
			var got string
			set := NewSet("test", "")
			set.SecretFromFile(&got, "token", "PAYAGG_TOKEN", "PAYAGG_TOKEN_FILE", "a token")
			err := set.Parse(nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "tok-") {
					t.Fatalf("error shows the token: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("token = %q, want %q", got, tc.want)
			}
		})
	}
}

// Whatever a broken .env holds, the message is one line of fixed text, a
// line number and at most a variable name: nothing else from the file.
func FuzzDescribeSyntaxError(f *testing.F) {
	f.Add([]byte("A=\"unterminated " + dotEnvSecret + "\n"))
	f.Add([]byte("A=1\nB=\"two\nlines\"\nMY-KEY=" + dotEnvSecret + "\n"))
	f.Add([]byte(dotEnvSecret + "\n"))
	f.Add([]byte("export X='" + dotEnvSecret))
	shape := regexp.MustCompile(`^syntax error on line [1-9][0-9]*( \(variable [A-Za-z_][A-Za-z0-9_.\-]{0,63}\))?: want NAME=value, with quotes closed on the line they open or a later one$`)
	f.Fuzz(func(t *testing.T, src []byte) {
		if msg := describeSyntaxError(src); !shape.MatchString(msg) {
			t.Fatalf("message %q is not line + variable name only", msg)
		}
	})
}
