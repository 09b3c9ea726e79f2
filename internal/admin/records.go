package admin

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/seedmcp/tenancy/audit"
	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/usage"
)

// changes are the actions that go into the tenant's audit trail: every
// request to change something, whatever its outcome. Reads do not.
var changes = map[string]bool{
	"tenant.create": true, "tenant.update": true, "tenant.delete": true,
	"key.create": true, "key.revoke": true,
}

// record writes the audit event of a request to change a tenant, made
// with a valid key that may act on that tenant: a refused key never
// writes to a trail (or anyone could flush a tenant's trail with wrong
// keys), nor does a tenant key asking about another tenant. The store
// writes only to a tenant that exists: a tenant's deletion is therefore in
// the log only, since its trail goes with it.
func (h *Handler) record(ctx context.Context, action, addr string, p principal, rep reply) {
	if h.cfg.Audit == nil || !changes[action] || rep.tenant == "" || !p.mayAct(rep.tenant) {
		return
	}
	status := rep.status
	outcome := "ok"
	if status >= 400 {
		outcome = rep.msg
	}
	// The trail logs its own failures; the change itself stands.
	_ = h.cfg.Audit.Admin(ctx, rep.tenant, audit.AdminEvent{
		Action: action, Actor: p.actor(), Addr: addr, Status: status, Outcome: outcome,
		Fields: rep.fields, Target: rep.target,
	})
}

// query returns the request's query, in which each of names, the
// parameters the route reads, may be given at most once: with two, the
// route would act on one while a proxy or log in front of it may have
// read the other. A query that does not parse is refused too, since
// url.Values drops a malformed pair ("limit=%zz") silently and could so
// hide a repeated parameter. Other parameters are ignored.
func query(r *http.Request, names ...string) (url.Values, *reply) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		rep := fail(http.StatusBadRequest, "Malformed query string")
		return nil, &rep
	}
	for _, name := range names {
		if len(q[name]) > 1 {
			rep := fail(http.StatusBadRequest, name+" is repeated")
			return nil, &rep
		}
	}
	return q, nil
}

// recordsQuery returns the tenant ID in the path of a read of the tenant's
// records and the request's query, as [query] checks it.
func recordsQuery(r *http.Request, names ...string) (string, url.Values, *reply) {
	id, rep := pathID(r)
	if rep != nil {
		return "", nil, rep
	}
	q, rep := query(r, names...)
	if rep != nil {
		rep.tenant = id
		return "", nil, rep
	}
	return id, q, nil
}

// defaultUsageDays is the range of a usage request without from: the 30
// days that end with to.
const defaultUsageDays = 30

func (h *Handler) usage(r *http.Request, _ principal) reply {
	id, q, rep := recordsQuery(r, "from", "to")
	if rep != nil {
		return *rep
	}
	to := q.Get("to")
	if to == "" {
		to = h.cfg.Now().UTC().Format(store.DateLayout)
	}
	from := q.Get("from")
	if from == "" {
		if end, err := store.ParseDate(to); err == nil {
			from = end.AddDate(0, 0, 1-defaultUsageDays).Format(store.DateLayout)
		}
	}
	if _, err := store.UsageDates(from, to); err != nil {
		return withTenant(fail(http.StatusBadRequest,
			"from and to must be dates (YYYY-MM-DD), from not after to, at most "+strconv.Itoa(store.MaxUsageDays)+" days"), id)
	}
	id, rep = h.existing(r)
	if rep != nil {
		return *rep
	}
	report, err := usage.Read(r.Context(), h.cfg.Usage, id, from, to)
	if err != nil {
		return storeFailure(err, id)
	}
	return reply{status: http.StatusOK, body: report, tenant: id}
}

func (h *Handler) audit(r *http.Request, _ principal) reply {
	id, q, rep := recordsQuery(r, "after", "limit")
	if rep != nil {
		return *rep
	}
	limit := 0
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > store.MaxAuditPage {
			return withTenant(fail(http.StatusBadRequest, "limit must be an integer from 1 to "+strconv.Itoa(store.MaxAuditPage)), id)
		}
		limit = n
	}
	after := q.Get("after")
	if after != "" && !store.ValidAuditCursor(after) {
		return withTenant(fail(http.StatusBadRequest, "Invalid cursor"), id)
	}
	id, rep = h.existing(r)
	if rep != nil {
		return *rep
	}
	page, err := h.cfg.Audit.Read(r.Context(), id, after, limit)
	if errors.Is(err, store.ErrAuditCursor) {
		return withTenant(fail(http.StatusBadRequest, "Invalid cursor"), id)
	}
	if err != nil {
		return storeFailure(err, id)
	}
	return reply{status: http.StatusOK, body: page, tenant: id}
}
