package handlers

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/busywork/busywork/ddb"
)

// BuyerTenant returns the tenant (producer.Tenant, SQS's MessageGroupId)
// of a buyer's ticket jobs: "buyer-" and 32 hex digits of the SHA-256 of
// the normalised address, so that every job of one buyer, whatever the
// spelling of the address, shares a tenant, and on a fair queue one big
// order does not delay everyone else's.
//
// Why not the address itself: a MessageGroupId is shown by what lists a
// message's system attributes (the SQS console, a peek at a queue or its
// dead letters, logs of them), so the hash keeps addresses out of those.
// It hides nothing from someone who guesses an address and hashes it, and
// the ticket jobs' bodies carry the address anyway: it is a label, not a
// secret.
func BuyerTenant(email string) string {
	sum := sha256.Sum256([]byte(ddb.NormalizeEmail(email)))
	return "buyer-" + hex.EncodeToString(sum[:16])
}
