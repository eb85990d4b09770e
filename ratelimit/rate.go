package ratelimit

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Rate is a number of starts per period: 10 a second, 600 a minute.
type Rate struct {
	// N is how many starts the period allows; more than 0.
	N float64
	// Per is the period: time.Second, time.Minute or time.Hour as
	// ParseRate reads them, or any positive duration.
	Per time.Duration
}

// PerSecond returns a Rate of n starts a second.
func PerSecond(n float64) Rate { return Rate{N: n, Per: time.Second} }

// Interval is the time between two starts the rate allows.
func (r Rate) Interval() time.Duration {
	return time.Duration(float64(r.Per) / r.N)
}

// Zero reports whether r is the zero Rate, which means no limit.
func (r Rate) Zero() bool { return r == Rate{} }

// String formats r as ParseRate reads it: "10/s", "600/m", "2.5/h".
func (r Rate) String() string {
	n := strconv.FormatFloat(r.N, 'f', -1, 64)
	for unit, per := range units {
		if per == r.Per {
			return n + "/" + unit
		}
	}
	return n + "/" + r.Per.String()
}

var units = map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour}

// Bounds of a rate: at least one start a day, at most 100,000 a second.
const (
	minInterval = 10 * time.Microsecond
	maxInterval = 24 * time.Hour
)

// ParseRate reads a rate written as N/s, N/m or N/h: "10/s" is ten starts
// a second, "600/m" the same spread over a minute, "0.5/s" one start every
// two seconds. N is a positive decimal number.
func ParseRate(s string) (Rate, error) {
	num, unit, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return Rate{}, fmt.Errorf("rate %q: want N/s, N/m or N/h, such as 10/s", s)
	}
	per, ok := units[unit]
	if !ok {
		return Rate{}, fmt.Errorf("rate %q: unit %q is not s, m or h", s, unit)
	}
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
		return Rate{}, fmt.Errorf("rate %q: %q is not a number", s, num)
	}
	r := Rate{N: n, Per: per}
	if err := r.check(); err != nil {
		return Rate{}, fmt.Errorf("rate %q: %w", s, err)
	}
	return r, nil
}

// check reports what is wrong with r as a limit.
func (r Rate) check() error {
	if !(r.N > 0) || r.Per <= 0 {
		return fmt.Errorf("%v starts per %s is not a positive rate", r.N, r.Per)
	}
	if iv := r.Interval(); iv < minInterval || iv > maxInterval {
		return fmt.Errorf("%v starts per %s is not between one a day and 100000 a second", r.N, r.Per)
	}
	return nil
}

// ParseLimits reads a list of named rates, as BUSYWORK_RATE_LIMITS holds
// them: "ping=10/s,mail=600/m". Names are job types or the names of
// shared limits, such as "mail". An empty list is no limits. A name given
// twice, or an entry that is not NAME=RATE, is an error naming it.
func ParseLimits(s string) (map[string]Rate, error) {
	limits := map[string]Rate{}
	if strings.TrimSpace(s) == "" {
		return limits, nil
	}
	for _, entry := range strings.Split(s, ",") {
		name, rate, ok := strings.Cut(strings.TrimSpace(entry), "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, fmt.Errorf("%q is not NAME=RATE, such as ping=10/s", entry)
		}
		if _, dup := limits[name]; dup {
			return nil, fmt.Errorf("%q is limited twice", name)
		}
		r, err := ParseRate(rate)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		limits[name] = r
	}
	return limits, nil
}
