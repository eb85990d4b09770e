// Package ratelimit paces jobs across a whole fleet of workers: a Limiter
// spreads the starts of the jobs it limits evenly at its Rate, counting
// the starts of every worker that shares its name, through one DynamoDB
// item per limit. Give it to a handler with consumer.RateLimit; a job over
// the limit waits its turn without failing and without spending a receive
// (see consumer.Snooze). busywork's runtime builds Limiters from
// BUSYWORK_RATE_LIMITS ("ping=10/s,mail=600/m", read by ParseLimits).
//
//	mail := ratelimit.New(store, "mail", ratelimit.PerSecond(14))
//	consumer.Handle(mux, sendWelcome, consumer.RateLimit(mail))
//	consumer.Handle(mux, sendReceipt, consumer.RateLimit(mail)) // shares it
//
// SESRate reads the account's sending rate from SES, the default of a
// limit on mail.
//
// # Cost
//
// Taking starts is one conditional UpdateItem, shared by the reservations
// that wait in one process at the same moment (a wave), and one more for
// each time another worker moved the limit first. A job that waits past
// consumer.Config.HoldLimit takes nothing and asks again when its fresh
// copy comes back. A Limiter of the zero Rate makes no call.
package ratelimit
