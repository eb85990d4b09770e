// Package jobs is busywork's wire contract: the Job interface every job
// type implements, the encoding of a job into an SQS message body, and the
// message attributes and signature that travel with it. It also holds the
// runtime's own job type, Ping.
//
// A message body is one flat JSON object holding a "type" field and the job's
// own fields:
//
//	{"type":"welcome_email","user_id":"ada"}
//
// The body alone is the contract, so a producer in another language (or the
// SQS console) can enqueue work. The message attributes named here are
// conveniences set by busywork's producer.
//
// A service declares each of its job types as a struct with a Type method
// returning its wire name and a Validate method that reports what is wrong
// with its fields:
//
//	type WelcomeEmail struct {
//		UserID string `json:"user_id"`
//	}
//
//	func (WelcomeEmail) Type() string { return "welcome_email" }
//
//	func (j WelcomeEmail) Validate() error {
//		if j.UserID == "" {
//			return errors.New("user_id: missing")
//		}
//		return nil
//	}
//
//	body, err := jobs.Marshal(WelcomeEmail{UserID: "ada"})
//
// The demo's job types are in package demo. The package has no AWS
// dependency.
package jobs
