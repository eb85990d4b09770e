package consumer

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/busywork/busywork/jobs"
)

func TestPrepare_ChecksSignaturesWhenAKeyIsSet(t *testing.T) {
	key := []byte("k")
	body := `{"type":"ping","message":"hi"}`
	mux := NewMux()
	Handle(mux, func(context.Context, jobs.Ping) error { return nil })
	tests := []struct {
		name    string
		key     []byte
		body    string
		sig     *string
		wantErr error // nil: the job is prepared
	}{
		{"signed", key, body, aws.String(jobs.Sign(key, []byte(body))), nil},
		{"no key, unsigned", nil, body, nil, nil},
		{"no key, any signature", nil, body, aws.String("junk"), nil},
		{"unsigned", key, body, nil, ErrUnsigned},
		{"empty signature", key, body, aws.String(""), ErrUnsigned},
		{"signed with another key", key, body, aws.String(jobs.Sign([]byte("other"), []byte(body))), ErrForged},
		{"body changed after signing", key, `{"type":"ping","message":"hi!"}`, aws.String(jobs.Sign(key, []byte(body))), ErrForged},
		{"signature not hex", key, body, aws.String("not hex"), ErrForged},
		{"signed but malformed", key, `{"type":`, aws.String(jobs.Sign(key, []byte(`{"type":`))), jobs.ErrMalformed},
		{"forged and malformed", key, `{"type":`, aws.String("00"), ErrForged},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &lane{c: &Consumer{mux: mux, cfg: Config{SigningKey: tt.key}}}
			msg := types.Message{Body: aws.String(tt.body), MessageAttributes: map[string]types.MessageAttributeValue{}}
			if tt.sig != nil {
				msg.MessageAttributes[jobs.AttrSignature] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: tt.sig}
			}
			m := &message{msg: msg}
			m.delivery.Type, m.malformed = jobs.PeekType([]byte(tt.body))
			_, _, err := l.prepare(m)
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Fatalf("prepare error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}
