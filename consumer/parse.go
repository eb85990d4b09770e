package consumer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/busywork/busywork/jobs"
)

// ErrInvalid is wrapped by the error of Mux.Parse for a job whose
// Validate failed; Validate's error is wrapped too.
var ErrInvalid = errors.New("invalid job")

// Parse decodes fields, a JSON object of a job's own fields such as
// {"email":"ada@example.com"}, into the struct that m's handler of type
// typ takes, and validates it: for a command that enqueues a job a person
// typed. It is stricter than the consumer: a field the struct does not
// have is an error, and so is a "type" field other than typ (one equal to
// typ is allowed, so a whole message body parses).
//
// Its errors read well on their own and wrap ErrUnknownType (the message
// lists the known types), jobs.ErrMalformed (the message starts "JSON: ")
// or ErrInvalid.
func (m *Mux) Parse(typ string, fields []byte) (jobs.Job, error) {
	r, ok := m.routes[typ]
	if !ok {
		return nil, &parseError{kind: ErrUnknownType,
			msg: fmt.Sprintf("unknown job type %q (known: %s)", typ, strings.Join(m.Types(), ", "))}
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(fields, &obj); err != nil {
		return nil, malformed(typ, err)
	}
	if obj == nil {
		return nil, malformed(typ, errors.New("null is not an object"))
	}
	if raw, ok := obj["type"]; ok {
		var inner string
		if err := json.Unmarshal(raw, &inner); err != nil || inner != typ {
			return nil, malformed(typ, fmt.Errorf(`field "type" is %s, not %q`, raw, typ))
		}
		delete(obj, "type")
		var err error
		if fields, err = json.Marshal(obj); err != nil {
			return nil, malformed(typ, err)
		}
	}
	job, err := r.strict(fields)
	if err != nil {
		return nil, malformed(typ, err)
	}
	if err := job.Validate(); err != nil {
		return nil, &parseError{kind: ErrInvalid, cause: err, msg: fmt.Sprintf("invalid %s job: %v", typ, err)}
	}
	return job, nil
}

// decodeStrict decodes data into a T, refusing fields T does not have.
func decodeStrict[T jobs.Job](data []byte) (jobs.Job, error) {
	var job T
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&job); err != nil {
		return nil, err
	}
	return job, nil
}

func malformed(typ string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "json: ")
	return &parseError{kind: jobs.ErrMalformed, cause: err, msg: fmt.Sprintf("JSON: %s job fields: %s", typ, msg)}
}

// parseError is an error of Parse: a message that reads well alone, the
// sentinel it is an instance of, and its cause.
type parseError struct {
	kind  error
	cause error
	msg   string
}

func (e *parseError) Error() string { return e.msg }

func (e *parseError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}
