package webapp

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/demo"
	"github.com/busywork/busywork/handlers"
	"github.com/busywork/busywork/producer"
)

// msgNoOrder is GET /orders/{id}'s answer for an unknown order.
const msgNoOrder = "no such order (a new order shows once the worker has taken it)"

// Fixed answers of POST /orders.
const (
	msgSignInToOrder = "Sign in to order tickets: they are emailed to the address you sign in with."
	msgTooManyOrders = "You have placed several orders just now. Please wait a little before the next one."
)

// orderRequest is the JSON body of POST /orders. Email is accepted for
// the clients of old and ignored: the tickets go to the signed-in user.
type orderRequest struct {
	Email   string `json:"email"`
	Event   string `json:"event"`
	Tickets int    `json:"tickets"`
}

// order enqueues one ticket_order job for the whole order, whatever its
// size, for the signed-in user, and answers 202 with the order's id: a
// JSON body, or the page of the demo's order form (which then shows the
// order's progress). The tickets go to the session's address, whatever
// the request says. Without a session it enqueues nothing: 401 to JSON,
// a redirect to the sign-in form to a form. A user over the order
// throttle gets 429 with Retry-After. The same order posted again within
// RepeatOrderWindow enqueues nothing and gets the first's answer (its
// order id).
func (a *app) order(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	asJSON := isJSON(r)
	email, err := a.signedIn(w, r)
	fail := func(code int, msg string) {
		if asJSON {
			a.writeJSON(w, code, answer{Error: msg})
			return
		}
		a.writePage(w, code, page{Title: "Something went wrong", Message: msg, Email: email, Form: email != ""})
	}
	switch {
	case err != nil:
		a.log.Error("read session", "error", err)
		w.Header().Set("Retry-After", "1")
		fail(http.StatusServiceUnavailable, msgUnavailable)
		return
	case email == "" && asJSON:
		fail(http.StatusUnauthorized, msgSignInToOrder)
		return
	case email == "":
		http.Redirect(w, r, "/#sign-in", http.StatusSeeOther)
		return
	}
	req, err := postedOrder(r, asJSON)
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		fail(http.StatusRequestEntityTooLarge, fmt.Sprintf("the request body is over %d bytes", MaxBodyBytes))
		return
	case err != nil:
		fail(http.StatusBadRequest, err.Error())
		return
	}
	job := demo.TicketOrder{OrderID: newOrderID(), Email: email, Event: strings.TrimSpace(req.Event), Tickets: req.Tickets}
	if err := job.Validate(); err != nil {
		fail(http.StatusBadRequest, err.Error())
		return
	}
	wait, giveBack := a.orders.take(email)
	if wait > 0 {
		w.Header().Set("Retry-After", retryAfter(wait))
		fail(http.StatusTooManyRequests, msgTooManyOrders)
		return
	}
	// The order's job id is its order id, so that a repeat of it (a
	// double-click, a reload of the answer), which Unique turns into a
	// no-op returning the first's job id, gets the first's answer and
	// does not count against the throttle.
	id, err := a.sender.Send(r.Context(), job, producer.JobID(job.OrderID),
		producer.Unique(orderKey(job), RepeatOrderWindow), producer.Tenant(handlers.BuyerTenant(email)))
	switch {
	case errors.Is(err, producer.ErrDuplicate) && demo.ValidateOrderID(id) == nil:
		giveBack()
		a.log.Info("ticket order repeated: answered with the first", "order_id", id)
		job.OrderID = id
	case errors.Is(err, producer.ErrInvalidJob):
		fail(http.StatusBadRequest, err.Error())
		return
	case err != nil:
		a.log.Warn("enqueue ticket_order job", "error", err)
		w.Header().Set("Retry-After", "1")
		fail(http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	w.Header().Set("Location", "/orders/"+job.OrderID)
	if asJSON {
		a.writeJSON(w, http.StatusAccepted, struct {
			OrderID string `json:"order_id"`
			Email   string `json:"email"`
		}{job.OrderID, job.Email})
		return
	}
	a.writePage(w, http.StatusAccepted, page{Title: "Order placed",
		Message: fmt.Sprintf("Your %d tickets for %s are being made; they will be emailed to %s.", job.Tickets, job.Event, job.Email),
		Email:   email, Order: &placedOrder{ID: job.OrderID, Event: job.Event, Tickets: job.Tickets}})
}

// postedOrder reads a JSON body or the form fields event and tickets (a
// form's email field, as an older page posts it, is ignored).
func postedOrder(r *http.Request, asJSON bool) (orderRequest, error) {
	var req orderRequest
	if asJSON {
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			return req, fmt.Errorf("JSON body: %w", err)
		}
		return req, nil
	}
	if err := r.ParseForm(); err != nil {
		return req, fmt.Errorf("form: %w", err)
	}
	req.Event = r.PostForm.Get("event")
	n, err := strconv.Atoi(strings.TrimSpace(r.PostForm.Get("tickets")))
	if err != nil {
		return req, fmt.Errorf("tickets: %q is not a whole number", r.PostForm.Get("tickets"))
	}
	req.Tickets = n
	return req, nil
}

// RepeatOrderWindow is how long an order is remembered (producer.Unique)
// so that posting it again, with the same event and number of tickets,
// enqueues nothing and answers as the first post did: long enough for a
// double-click, a reload of the answer or a retry after a lost answer; a
// second order of the same tickets in that time is far more likely a
// repeat than meant.
const RepeatOrderWindow = 30 * time.Second

// orderKey is the unique key of job: its buyer, event and number of
// tickets.
func orderKey(job demo.TicketOrder) string {
	return ddb.NormalizeEmail(job.Email) + "\n" + strconv.Itoa(job.Tickets) + "\n" + job.Event
}

// newOrderID returns a fresh order id: 26 letters and digits.
func newOrderID() string { return strings.ToLower(rand.Text()) }

// orderStatus answers the progress of an order as JSON, with the action
// that finishes it when it needs one; 404 for an id no
// worker has taken (an order just placed shows once its job has run) and
// for one no order can have, which is not looked up.
func (a *app) orderStatus(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if demo.ValidateOrderID(id) != nil {
		a.writeJSON(w, http.StatusNotFound, answer{Error: msgNoOrder})
		return
	}
	st, err := a.store.OrderStatus(r.Context(), id)
	switch {
	case errors.Is(err, ddb.ErrNotFound):
		a.writeJSON(w, http.StatusNotFound, answer{Error: msgNoOrder})
	case err != nil:
		a.log.Error("read order status", "error", err)
		w.Header().Set("Retry-After", "1")
		a.writeJSON(w, http.StatusServiceUnavailable, answer{Error: msgUnavailable})
	default:
		st.Action = handlers.OrderAction(st, a.now(), a.routes.Lane)
		w.Header().Set("Cache-Control", "no-store")
		a.writeJSON(w, http.StatusOK, st)
	}
}
