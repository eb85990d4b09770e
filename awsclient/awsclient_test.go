package awsclient_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/busywork/busywork/awsclient"
)

func TestIsLocalEndpoint_OnlyLoopbackHostsAreLocal(t *testing.T) {
	for _, local := range []string{"http://127.0.0.1:9324", "http://localhost:8000", "http://[::1]:8005", "http://127.0.0.2:1", "https://localhost"} {
		if !awsclient.IsLocalEndpoint(local) {
			t.Errorf("IsLocalEndpoint(%q) = false, want true", local)
		}
	}
	for _, remote := range []string{"https://sqs.us-east-1.amazonaws.com", "http://10.0.0.5:9324", "http://0.0.0.0:9324", "127.0.0.1:9324", "http://localhost.example.com", "ftp://127.0.0.1", ""} {
		if awsclient.IsLocalEndpoint(remote) {
			t.Errorf("IsLocalEndpoint(%q) = true, want false", remote)
		}
	}
}

func TestNewDynamoDB_ValidatesChecksumsUnlessTheEndpointIsLocal(t *testing.T) {
	const (
		local  = "http://127.0.0.1:8000"
		remote = "https://dynamodb.eu-west-1.amazonaws.com"
	)
	tests := []struct {
		name         string
		global, ddb  string  // AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_DYNAMODB; "" unsets
		baseEndpoint *string // set by an option
		validated    bool
	}{
		{name: "AWS, no endpoint set", validated: true},
		{name: "DynamoDB Local by AWS_ENDPOINT_URL_DYNAMODB", ddb: local},
		{name: "a local stack by AWS_ENDPOINT_URL", global: "http://localhost:4566"},
		{name: "an AWS endpoint by AWS_ENDPOINT_URL_DYNAMODB", ddb: remote, validated: true},
		{name: "an AWS DynamoDB beside a local AWS_ENDPOINT_URL", global: local, ddb: remote, validated: true},
		{name: "DynamoDB Local on another host", ddb: "http://10.0.0.5:8000", validated: true},
		{name: "a local BaseEndpoint option", baseEndpoint: aws.String("http://[::1]:8000")},
		{name: "an AWS BaseEndpoint option over a local variable", ddb: local, baseEndpoint: aws.String(remote), validated: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			setOrUnset(t, "AWS_ENDPOINT_URL", tt.global)
			setOrUnset(t, "AWS_ENDPOINT_URL_DYNAMODB", tt.ddb)
			cfg, err := awsclient.Load(t.Context(), config.WithRegion("eu-west-1"),
				config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("test", "test", "")))
			if err != nil {
				t.Fatal(err)
			}
			var opts []func(*dynamodb.Options)
			if tt.baseEndpoint != nil {
				opts = append(opts, func(o *dynamodb.Options) { o.BaseEndpoint = tt.baseEndpoint })
			}
			o := awsclient.NewDynamoDB(cfg, opts...).Options()
			if validated := !o.DisableValidateResponseChecksum; validated != tt.validated {
				t.Errorf("endpoint %q: checksums validated = %v, want %v", aws.ToString(o.BaseEndpoint), validated, tt.validated)
			}
		})
	}
}

// isolate keeps the caller's AWS settings from the test until it ends: no
// shared config or credentials files, no profile, endpoint or retry
// settings. AWS_CA_BUNDLE stays: with it the loader insists on a
// BuildableClient, which Load must cope with.
func isolate(t *testing.T) {
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	for _, name := range []string{
		"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_ENDPOINT_URL",
		"AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE",
	} {
		setOrUnset(t, name, "")
	}
}

// setOrUnset sets the environment variable name to value, or unsets it
// when value is empty, until the test ends.
func setOrUnset(t *testing.T, name, value string) {
	t.Setenv(name, value)
	if value == "" {
		os.Unsetenv(name)
	}
}
