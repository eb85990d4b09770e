package ratelimit

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"
)

// AccountAPI is the part of *sesv2.Client SESRate calls.
type AccountAPI interface {
	GetAccount(ctx context.Context, in *sesv2.GetAccountInput, optFns ...func(*sesv2.Options)) (*sesv2.GetAccountOutput, error)
}

// SESRate returns the account's sending rate as SES v2's GetAccount
// reports it (SendQuota.MaxSendRate: 1 a second in the sandbox), or an
// error when the endpoint does not answer it (the local emulator does
// not).
func SESRate(ctx context.Context, ses AccountAPI) (Rate, error) {
	out, err := ses.GetAccount(ctx, &sesv2.GetAccountInput{})
	if err != nil {
		return Rate{}, fmt.Errorf("ses: get account: %w", err)
	}
	if out.SendQuota == nil || !(out.SendQuota.MaxSendRate > 0) {
		return Rate{}, errors.New("ses: get account: no sending rate in its answer")
	}
	r := PerSecond(out.SendQuota.MaxSendRate)
	if err := r.check(); err != nil {
		return Rate{}, fmt.Errorf("ses: sending rate: %w", err)
	}
	return r, nil
}
