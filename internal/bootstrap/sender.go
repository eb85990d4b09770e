package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
)

// SESAPI is the part of *sesv2.Client that Run calls.
type SESAPI interface {
	CreateEmailIdentity(ctx context.Context, in *sesv2.CreateEmailIdentityInput, optFns ...func(*sesv2.Options)) (*sesv2.CreateEmailIdentityOutput, error)
}

var _ SESAPI = (*sesv2.Client)(nil)

// SkippedNoIdentities is the Detail of the sender step when the endpoint
// has no email identities (aws-ses-v2-local answers 404).
const SkippedNoIdentities = "the endpoint does not support email identities"

// ensureSender creates the SES email identity sender. An endpoint that
// answers 404 (SES itself never does for this call) does not support
// identities: the step is skipped.
func ensureSender(ctx context.Context, client SESAPI, sender string) (Step, error) {
	step := Step{Resource: "sender " + sender, Status: Created,
		Detail: "SES mails a verification link to it; it sends once verified"}
	_, err := client.CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: aws.String(sender)})
	var (
		exists *types.AlreadyExistsException
		resp   *awshttp.ResponseError
	)
	switch {
	case err == nil:
		return step, nil
	case errors.As(err, &exists):
		step.Status, step.Detail = Exists, ""
		return step, nil
	case errors.As(err, &resp) && resp.HTTPStatusCode() == http.StatusNotFound:
		step.Status, step.Detail = Skipped, SkippedNoIdentities
		return step, nil
	}
	return step, fmt.Errorf("bootstrap: sender %s: create email identity: %w", sender, err)
}
