package handlers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"

	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/demo"
	"github.com/busywork/busywork/internal/claim"
)

// MagicLinkSubject is the subject line of magic-link emails.
const MagicLinkSubject = "Your sign-in link"

// MagicLinkTimeout is how long a magic_link job may run: a few DynamoDB
// writes and one SES call, each retried by the SDK.
const MagicLinkTimeout = 30 * time.Second

var (
	magicLinkHTML = mailHTML("magic_link")
	magicLinkText = mailText("magic_link")
)

// MagicLinkStore is the part of *ddb.Store that MagicLink uses.
type MagicLinkStore interface {
	claim.Store
	GetUser(ctx context.Context, email string) (ddb.User, error)
	AllowLink(ctx context.Context, email, jobID string, now time.Time) (bool, error)
	CreateToken(ctx context.Context, email string, ttl time.Duration) (string, error)
}

// MagicLinkMailer is the part of *sesv2.Client that MagicLink uses.
type MagicLinkMailer interface {
	SendEmail(ctx context.Context, in *sesv2.SendEmailInput, optFns ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error)
}

// MagicLink handles magic_link jobs: it emails a one-time login link to a
// known user. Register it with
//
//	consumer.Handle(mux, h.Handle, consumer.Timeout(handlers.MagicLinkTimeout))
//
// Fields must be set before the first job; a MagicLink is safe for
// concurrent use.
type MagicLink struct {
	// Store holds users, tokens, rate limits and job claims.
	Store MagicLinkStore
	// Mail sends the email through SES v2.
	Mail MagicLinkMailer
	// From is the sender address (BUSYWORK_FROM_EMAIL).
	From string
	// BaseURL is the web app's public root (BUSYWORK_BASE_URL), such as
	// https://busywork.example.com; the link is BaseURL +
	// "/auth/verify?token=" + the token.
	BaseURL string
	// TokenTTL is how long a link works. 0 means ddb.DefaultTokenTTL.
	TokenTTL time.Duration
	// Logger receives one line per job outcome. nil means slog.Default().
	Logger *slog.Logger
}

// Handle sends the login link of job.Email. It succeeds without sending
// anything when no user has that address or the address is over its rate
// limit, so the job's outcome tells nobody whether the user exists.
//
// The job's id (from consumer.DeliveryFromContext) is its idempotency key:
// the job is claimed before the email is sent and recorded as done once
// SES accepted it, so a redelivered job sends no second email (see
// package ddb for the exact guarantee). A delivery that finds another
// attempt holding the claim asks to be retried when that claim's lease
// ends. SES throttling, server and network errors are returned as plain
// errors (retried); SES refusing the message, the address or the account
// is consumer.Permanent.
func (h *MagicLink) Handle(ctx context.Context, job demo.MagicLink) error {
	d, ok := consumer.DeliveryFromContext(ctx)
	if !ok || d.ID == "" {
		return consumer.Permanent(errors.New("magic link: no job id in the context: run the handler through the consumer"))
	}
	// An address is logged only once it is known to be a user's: the logs
	// must not collect what strangers type into the login form.
	log := h.logger().With("job_id", d.ID, "job_type", job.Type())
	user, err := h.Store.GetUser(ctx, job.Email)
	if errors.Is(err, ddb.ErrNotFound) {
		log.InfoContext(ctx, "magic link: no user with this address, sent nothing", "outcome", "unknown_user")
		return nil
	}
	if err != nil {
		return fmt.Errorf("magic link: %w", err)
	}
	log = log.With("email", user.Email)

	return claim.Once(ctx, h.Store, d.ID, "magic link", log, func(ctx context.Context) (string, error) { return h.send(ctx, d.ID, user, log) })
}

// send applies the rate limit, counting job jobID once, then creates a token and emails its link.
// It returns the result to record with the job's claim.
func (h *MagicLink) send(ctx context.Context, jobID string, user ddb.User, log *slog.Logger) (string, error) {
	allowed, err := h.Store.AllowLink(ctx, user.Email, jobID, time.Now())
	if err != nil {
		return "", fmt.Errorf("magic link: %w", err)
	}
	if !allowed {
		log.InfoContext(ctx, "magic link: address over its rate limit, sent nothing", "outcome", "rate_limited")
		return "rate_limited", nil
	}
	ttl := h.TokenTTL
	if ttl <= 0 {
		ttl = ddb.DefaultTokenTTL
	}
	token, err := h.Store.CreateToken(ctx, user.Email, ttl)
	if err != nil {
		return "", fmt.Errorf("magic link: %w", err)
	}
	html, text, err := renderMagicLink(magicLinkData{
		Name:     user.Name,
		Link:     strings.TrimRight(h.BaseURL, "/") + "/auth/verify?token=" + url.QueryEscape(token),
		ValidFor: humanDuration(ttl),
	})
	if err != nil {
		return "", consumer.Permanent(fmt.Errorf("magic link: %w", err))
	}
	out, err := h.Mail.SendEmail(ctx, simpleEmail(h.From, user.Email, MagicLinkSubject, html, text))
	if err != nil {
		return "", sendError(err)
	}
	id := aws.ToString(out.MessageId)
	log.InfoContext(ctx, "magic link: sent", "outcome", "sent", "ses_message_id", id)
	return "sent " + id, nil
}

// sendError classifies an SES SendEmail error: a refusal that the same
// request cannot overcome is permanent; throttling, quotas, server and
// network errors are transient.
func sendError(err error) error {
	var (
		rejected  *sestypes.MessageRejected
		badReq    *sestypes.BadRequestException
		mailFrom  *sestypes.MailFromDomainNotVerifiedException
		suspended *sestypes.AccountSuspendedException
		paused    *sestypes.SendingPausedException
		notFound  *sestypes.NotFoundException
	)
	switch {
	case errors.As(err, &rejected), errors.As(err, &badReq), errors.As(err, &mailFrom),
		errors.As(err, &suspended), errors.As(err, &paused), errors.As(err, &notFound):
		return consumer.Permanent(fmt.Errorf("magic link: SES refused the email: %w", err))
	}
	return fmt.Errorf("magic link: send email: %w", err)
}

// magicLinkData is what the magic-link templates see.
type magicLinkData struct {
	Name     string
	Link     string
	ValidFor string
}

func renderMagicLink(data magicLinkData) (html, text string, err error) {
	return renderMail(magicLinkHTML, magicLinkText, data)
}

// humanDuration writes d for people: "15 minutes", "1 hour", "90 seconds".
func humanDuration(d time.Duration) string {
	unit := func(n int64, name string) string {
		if n == 1 {
			return "1 " + name
		}
		return fmt.Sprintf("%d %ss", n, name)
	}
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return unit(int64(d/time.Hour), "hour")
	case d >= time.Minute && d%time.Minute == 0:
		return unit(int64(d/time.Minute), "minute")
	case d%time.Second == 0:
		return unit(int64(d/time.Second), "second")
	}
	return d.String()
}

func (h *MagicLink) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}
