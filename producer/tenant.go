package producer

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// MaxTenantBytes is the longest tenant: SQS's limit on a MessageGroupId.
const MaxTenantBytes = 128

// ErrInvalidTenant is wrapped by the error for a Tenant that Send and
// SendBatch refuse before any network call.
var ErrInvalidTenant = errors.New("invalid tenant")

// Tenant returns an option that sets the tenant of the jobs: the
// MessageGroupId of their messages. On a standard queue (busywork's lanes
// are standard queues) that makes it an SQS fair queue: when one tenant
// has a large backlog (a 1,000-ticket order), SQS delivers the other
// tenants' messages first, so one big order does not delay everyone
// else's. The queue needs no setting for it and it costs nothing extra;
// a job without a tenant is not held back.
//
// id is 1 to MaxTenantBytes characters, each a letter, a digit or one of
// !"#$%&'()*+,-./:;<=>?@[\]^_`{|}~ (SQS's rule); Send and SendBatch
// refuse others with ErrInvalidTenant before any network call. Anyone who
// can receive from the queue sees it, so use a stable id that names no
// one (a user id, or a hash), not an address. SendBatch sets it on every
// job.
//
// On a FIFO queue a MessageGroupId is something else: the messages of one
// group are delivered in order and one at a time, so a tenant there would
// serialise that tenant's jobs.
func Tenant(id string) SendOption {
	return func(o *sendOptions) { o.tenant = &id }
}

// checkTenant returns the MessageGroupId for the Tenant option id of a job
// of type typ (nil when there is none), or why it is refused.
func checkTenant(typ string, id *string) (*string, error) {
	if id == nil {
		return nil, nil
	}
	var problem string
	switch {
	case *id == "":
		problem = "it is empty"
	case len(*id) > MaxTenantBytes:
		problem = fmt.Sprintf("%d bytes is longer than %d", len(*id), MaxTenantBytes)
	case strings.ContainsFunc(*id, func(r rune) bool { return r < '!' || r > '~' }):
		problem = fmt.Sprintf("%q holds a character other than a letter, a digit or ASCII punctuation", *id)
	default:
		return aws.String(*id), nil
	}
	return nil, fmt.Errorf("producer: %s job: %w: %s", typ, ErrInvalidTenant, problem)
}
