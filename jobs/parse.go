package jobs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Errors of Parse, compared with errors.Is. ErrMalformed (for fields that
// are not a JSON object of the job's fields) is the third.
var (
	// ErrUnknownType is wrapped by the error for a type that names none of
	// the job types of this package.
	ErrUnknownType = errors.New("unknown job type")
	// ErrInvalid is wrapped by the error for a job whose Validate failed;
	// Validate's error is wrapped too.
	ErrInvalid = errors.New("invalid job")
)

// decoders maps each job type of this package to the decoder of its
// struct.
var decoders = map[string]func([]byte) (Job, error){
	MagicLink{}.Type():       decodeStrict[MagicLink],
	GenerateTicket{}.Type():  decodeStrict[GenerateTicket],
	DispatchTickets{}.Type(): decodeStrict[DispatchTickets],
	Ping{}.Type():            decodeStrict[Ping],
	TicketOrder{}.Type():     decodeStrict[TicketOrder],
}

// Types returns the wire names of the job types Parse knows, sorted.
func Types() []string {
	types := make([]string, 0, len(decoders))
	for t := range decoders {
		types = append(types, t)
	}
	slices.Sort(types)
	return types
}

// Parse decodes fields, a JSON object of a job's own fields such as
// {"email":"ada@example.com"}, into the struct of job type typ, and
// validates it. It is strict, as befits input typed by a person: a field
// the struct does not have is an error, and so is a "type" field other
// than typ (one equal to typ is allowed, so a whole message body parses).
//
// Its errors read well on their own and wrap ErrUnknownType (the message
// lists the known types), ErrMalformed (the message starts "JSON: ") or
// ErrInvalid.
func Parse(typ string, fields []byte) (Job, error) {
	decode, ok := decoders[typ]
	if !ok {
		return nil, &parseError{kind: ErrUnknownType,
			msg: fmt.Sprintf("unknown job type %q (known: %s)", typ, strings.Join(Types(), ", "))}
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
	job, err := decode(fields)
	if err != nil {
		return nil, malformed(typ, err)
	}
	if err := job.Validate(); err != nil {
		return nil, &parseError{kind: ErrInvalid, cause: err, msg: fmt.Sprintf("invalid %s job: %v", typ, err)}
	}
	return job, nil
}

// decodeStrict decodes data into a T, refusing fields T does not have.
func decodeStrict[T Job](data []byte) (Job, error) {
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
	return &parseError{kind: ErrMalformed, cause: err, msg: fmt.Sprintf("JSON: %s job fields: %s", typ, msg)}
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
