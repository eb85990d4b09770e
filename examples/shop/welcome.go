package main

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/busywork/busywork/consumer"
)

// WelcomeEmail is the job of greeting a new user by email.
type WelcomeEmail struct {
	UserID string `json:"user_id"`
}

// Type names the job on the wire.
func (WelcomeEmail) Type() string { return "welcome_email" }

var userID = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// Validate refuses a job without a plain user id.
func (j WelcomeEmail) Validate() error {
	if !userID.MatchString(j.UserID) {
		return fmt.Errorf("user_id %q: want 1 to 63 lower-case letters, digits and '-'", j.UserID)
	}
	return nil
}

// welcomeTimeout is how long one welcome may take.
const welcomeTimeout = 10 * time.Second

// mailer is the part of *sesv2.Client the welcomer calls.
type mailer interface {
	SendEmail(ctx context.Context, in *sesv2.SendEmailInput, optFns ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error)
}

// welcomer sends welcome emails.
type welcomer struct {
	mail   mailer
	from   string
	domain string
}

func (w *welcomer) send(ctx context.Context, j WelcomeEmail) error {
	d, _ := consumer.DeliveryFromContext(ctx)
	_, err := w.mail.SendEmail(ctx, &sesv2.SendEmailInput{
		FromEmailAddress: aws.String(w.from),
		Destination:      &types.Destination{ToAddresses: []string{j.UserID + "@" + w.domain}},
		Content: &types.EmailContent{Simple: &types.Message{
			Subject: &types.Content{Data: aws.String("Welcome to the shop")},
			Body:    &types.Body{Text: &types.Content{Data: aws.String("Welcome, " + j.UserID + "! (job " + d.ID + ")")}},
		}},
	})
	var rejected *types.MessageRejected
	if errors.As(err, &rejected) {
		return consumer.Permanent(err) // retrying cannot help: to the DLQ
	}
	return err
}
