package jobs

import (
	"errors"
	"fmt"
)

// Job is implemented by every job type. Type returns the job's wire name,
// the value of the body's "type" field; it must not depend on the receiver's
// fields. Validate reports what is wrong with the job's fields, or nil.
type Job interface {
	Type() string
	Validate() error
}

// TypePing is the wire name of Ping.
const TypePing = "ping"

// MaxPingWorkMS is the longest a ping job may ask the worker to wait, in
// milliseconds.
const MaxPingWorkMS = 60_000

// Ping is a job the worker only logs. Use it to smoke-test a deployment:
//
//	busywork send ping '{"message":"hello"}'
//
// WorkMS makes the worker wait that many milliseconds before it logs, so a
// load test can run jobs of a realistic duration:
//
//	busywork send ping '{"message":"load","work_ms":100}'
type Ping struct {
	Message string `json:"message,omitempty"`
	// WorkMS is how long the handler waits before it logs, 0 to
	// MaxPingWorkMS milliseconds.
	WorkMS int `json:"work_ms,omitempty"`
}

// Type returns "ping".
func (Ping) Type() string { return TypePing }

// Validate checks that Message is at most 1024 bytes and that WorkMS is
// between 0 and MaxPingWorkMS.
func (j Ping) Validate() error {
	var errs []error
	if len(j.Message) > 1024 {
		errs = append(errs, fmt.Errorf("message: %d bytes is longer than 1024", len(j.Message)))
	}
	if j.WorkMS < 0 || j.WorkMS > MaxPingWorkMS {
		errs = append(errs, fmt.Errorf("work_ms: %d is not between 0 and %d", j.WorkMS, MaxPingWorkMS))
	}
	return errors.Join(errs...)
}

// ValidateJobID checks a job id given by a caller (a deterministic id for a
// follow-up job): 1 to 128 letters, digits, '-' and '_'.
func ValidateJobID(id string) error { return validateID("job_id", id) }

// MaxGroupIDBytes is the longest group id: short enough that the job ids
// package groups derives from it (the id, '-' and a child's number or
// "follow-up") pass ValidateJobID.
const MaxGroupIDBytes = 100

// ValidateGroupID checks a fan-out group's id (see package groups): 1 to
// MaxGroupIDBytes letters, digits, '-' and '_'.
func ValidateGroupID(id string) error {
	if len(id) > MaxGroupIDBytes {
		return fmt.Errorf("group_id: %d bytes is longer than %d", len(id), MaxGroupIDBytes)
	}
	return validateID("group_id", id)
}

func validateID(field, id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%s: missing", field)
	case len(id) > 128:
		return fmt.Errorf("%s: %d bytes is longer than 128", field, len(id))
	}
	for _, r := range id {
		if !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return fmt.Errorf("%s: %q may hold only letters, digits, '-' and '_'", field, id)
		}
	}
	return nil
}
