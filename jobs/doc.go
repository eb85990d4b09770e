// Package jobs is busywork's wire contract: one struct per job type, the
// encoding of a job into an SQS message body, and the message attributes and
// signature that travel with it.
//
// A message body is one flat JSON object holding a "type" field and the job's
// own fields:
//
//	{"type":"magic_link","email":"ada@example.com"}
//
// The body alone is the contract, so a producer in another language (or the
// SQS console) can enqueue work. The message attributes named here are
// conveniences set by busywork's producer.
//
// Each job type is a struct with a Type method returning its wire name and a
// Validate method that reports what is wrong with its fields:
//
//	body, err := jobs.Marshal(jobs.MagicLink{Email: "ada@example.com"})
//
// The package has no AWS dependency.
package jobs
