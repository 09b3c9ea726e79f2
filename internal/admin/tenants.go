package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/seedmcp/tenancy/store"
	"github.com/seedmcp/tenancy/tenant"
)

// maxCursorLength bounds the cursor of a list request. Cursors are tenant
// IDs, so anything longer is not one.
const maxCursorLength = tenant.MaxIDLength

// storeRetryAfter is the Retry-After of a 503 caused by the store.
const storeRetryAfter = 5 * time.Second

// listPage is the answer of GET /admin/tenants.
type listPage struct {
	Tenants []*shown `json:"tenants"`
	Next    string   `json:"next"`
}

// validate applies the tenant rules and the deployment's own: a custom
// domain may not sit under the base domain of subdomain mode, and the
// provider URLs must pass Config.ProviderURL.
func (h *Handler) validate(t *tenant.Tenant) error {
	if err := t.Validate(); err != nil {
		return err
	}
	base := h.cfg.BaseDomain
	if base != "" && t.Domain != "" && (t.Domain == base || strings.HasSuffix(t.Domain, "."+base)) {
		return fmt.Errorf("%w: domain must not be %s or under it: tenants' subdomains are served there", tenant.ErrInvalid, base)
	}
	if check := h.cfg.ProviderURL; check != nil {
		o := t.OIDC
		for _, f := range [...]struct{ name, url string }{{"oidc.issuer", o.Issuer}, {"oidc.jwksUri", o.JWKSURI},
			{"oidc.tokenUrl", o.TokenURL}, {"oidc.authorizationUrl", o.AuthorizationURL},
			{"oidc.revocationUrl", o.RevocationURL}} {
			if f.url == "" {
				continue
			}
			if err := check(f.url); err != nil {
				return fmt.Errorf("%w: %s: %w", tenant.ErrInvalid, f.name, err)
			}
		}
	}
	return nil
}

// deleted is the answer of DELETE /admin/tenants/{id}.
type deleted struct {
	ID          string `json:"id"`
	DeletedKeys int64  `json:"deletedKeys"`
}

func (h *Handler) create(r *http.Request, _ principal) reply {
	body, rep := readBody(r, "application/json")
	if rep != nil {
		return *rep
	}
	doc, err := parseObject(body)
	if err != nil {
		return fail(http.StatusBadRequest, err.Error())
	}
	secret, err := takeSecret(doc)
	if err != nil {
		return fail(http.StatusBadRequest, err.Error())
	}
	t, err := decodeTenant(doc)
	if err != nil {
		return fail(http.StatusBadRequest, err.Error())
	}
	// The timestamps are the server's; a client's are ignored.
	t.CreatedAt, t.UpdatedAt = time.Time{}, time.Time{}
	if t.Status == "" {
		t.Status = tenant.StatusActive
	}
	invalid := func(msg string) reply {
		rep := fail(http.StatusBadRequest, msg)
		if tenant.ValidID(t.ID) {
			rep.tenant = t.ID
		}
		return rep
	}
	if err := tenant.ValidateID(t.ID); err != nil {
		// Checked before the secret is sealed for this ID.
		return invalid(fmt.Errorf("id: %w", err).Error())
	}
	msg, err := h.applySecret(t, secret)
	if err != nil {
		return reply{status: http.StatusInternalServerError, msg: "Internal error", tenant: t.ID, cause: err}
	}
	if msg != "" {
		return invalid(msg)
	}
	if err := h.validate(t); err != nil {
		return invalid(err.Error())
	}
	stored, err := h.cfg.Tenants.Create(r.Context(), t)
	if err != nil && !errors.Is(err, store.ErrNotPublished) {
		return storeFailure(err, t.ID)
	}
	h.changed(store.EventCreated, stored.ID)
	fields := memberNames(doc)
	if secret.named && stored.OIDC.ClientSecret != "" {
		fields = append(fields, secretField)
		slices.Sort(fields)
	}
	return reply{status: http.StatusCreated, body: show(stored), tenant: stored.ID,
		location: "/admin/tenants/" + stored.ID, cause: err, fields: fields}
}

func (h *Handler) list(r *http.Request, _ principal) reply {
	q, rep := query(r, "limit", "cursor")
	if rep != nil {
		return *rep
	}
	limit := 0
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if errors.Is(err, strconv.ErrRange) && s[0] != '-' {
			// Too large for an int, and so above the cap like any
			// other large limit.
			n, err = store.MaxListLimit, nil
		}
		if err != nil || n < 1 {
			return fail(http.StatusBadRequest, "limit must be a positive integer")
		}
		limit = store.ListLimit(n)
	}
	cursor := q.Get("cursor")
	if len(cursor) > maxCursorLength || (cursor != "" && !tenant.ValidID(cursor)) {
		return fail(http.StatusBadRequest, "Invalid cursor")
	}
	ts, next, err := h.cfg.Tenants.List(r.Context(), cursor, limit)
	if err != nil {
		return storeFailure(err, "")
	}
	if ts == nil {
		ts = []*tenant.Tenant{} // "tenants":[] rather than null
	}
	return reply{status: http.StatusOK, body: listPage{Tenants: showAll(ts), Next: next}}
}

func (h *Handler) get(r *http.Request, _ principal) reply {
	id, rep := pathID(r)
	if rep != nil {
		return *rep
	}
	t, err := h.cfg.Tenants.Get(r.Context(), id)
	if err != nil {
		return storeFailure(err, id)
	}
	return reply{status: http.StatusOK, body: show(t), tenant: id, etag: etag(t)}
}

// tenantKeyFields are the members a tenant key may patch.
var tenantKeyFields = map[string]bool{"name": true, "oidc": true}

// update applies a JSON merge patch (RFC 7396) to the tenant's JSON. The
// read and the write are one atomic step when the store is a
// store.Swapper (both stores of this module are): a patch that meets a
// concurrent change applies itself again to the tenant as it is now, or,
// with If-Match, answers 412.
func (h *Handler) update(r *http.Request, p principal) reply {
	id, rep := pathID(r)
	if rep != nil {
		return *rep
	}
	body, rep := readBody(r, "application/merge-patch+json", "application/json")
	if rep != nil {
		return withTenant(*rep, id)
	}
	patch, err := parseObject(body)
	if err != nil {
		return withTenant(fail(http.StatusBadRequest, err.Error()), id)
	}
	obj, ok := patch.(map[string]any)
	if !ok {
		return withTenant(fail(http.StatusBadRequest, "the merge patch must be a JSON object"), id)
	}
	asked := memberNames(obj)
	refuse := func(rep reply) reply {
		rep.tenant, rep.fields = id, asked
		return rep
	}
	secret, err := takeSecret(patch)
	if err != nil {
		return refuse(fail(http.StatusBadRequest, err.Error()))
	}
	if !p.operator() {
		for name := range obj {
			if !tenantKeyFields[name] {
				return refuse(fail(http.StatusForbidden, "Forbidden: a tenant key may change only name and oidc"))
			}
		}
	}
	// The merged tenant is checked member by member as well, but a
	// member set to null is gone from it: {"Domain":null} would answer
	// 200 and remove nothing, so the patch's own names are checked first.
	if err := checkMembers("", obj, tenantFields); err != nil {
		return refuse(fail(http.StatusBadRequest, err.Error()))
	}
	match, rep := ifMatch(r)
	if rep != nil {
		return refuse(*rep)
	}
	for attempt := 1; ; attempt++ {
		current, err := h.cfg.Tenants.Get(r.Context(), id)
		if err != nil {
			return refuse(storeFailure(err, id))
		}
		if match != nil && !match(etag(current)) {
			return refuse(preconditionFailed())
		}
		next, msg := applyPatch(current, patch)
		if msg == "" && !secret.named && next.OIDC.ClientSecret != "" && secretSentElsewhere(current.OIDC, next.OIDC) {
			msg = errSecretElsewhere.Error()
		}
		if msg == "" {
			var err error
			if msg, err = h.applySecret(next, secret); err != nil {
				return refuse(reply{status: http.StatusInternalServerError, msg: "Internal error", cause: err})
			}
		}
		if msg == "" {
			if err := h.validate(next); err != nil {
				msg = err.Error()
			}
		}
		if msg != "" {
			return refuse(fail(http.StatusBadRequest, msg))
		}
		stored, err := h.replace(r.Context(), current, next)
		if errors.Is(err, store.ErrConflict) && match != nil {
			// The tenant changed after it was read: it no longer
			// matches If-Match.
			return refuse(preconditionFailed())
		}
		if errors.Is(err, store.ErrConflict) && attempt < patchAttempts {
			// Another change landed between the read and the write:
			// apply the patch again, to the tenant as it is now.
			if patch, err = parseObject(body); err != nil {
				return withTenant(fail(http.StatusBadRequest, err.Error()), id)
			}
			if secret, err = takeSecret(patch); err != nil {
				return refuse(fail(http.StatusBadRequest, err.Error()))
			}
			continue
		}
		if err != nil && !errors.Is(err, store.ErrNotPublished) {
			return refuse(storeFailure(err, id))
		}
		h.changed(store.EventUpdated, id)
		return reply{status: http.StatusOK, body: show(stored), tenant: id, cause: err, etag: etag(stored),
			fields: secretFields(changedFields(current, stored), secret, current, stored)}
	}
}

// patchAttempts bounds the reads and writes of one PATCH that keeps
// meeting concurrent changes; past it the client gets 409.
const patchAttempts = 3

// replace writes next in place of current: only while the tenant is still
// current when the store can tell (store.Swapper), so that two concurrent
// patches never lose one another's changes.
func (h *Handler) replace(ctx context.Context, current, next *tenant.Tenant) (*tenant.Tenant, error) {
	if sw, ok := h.cfg.Tenants.(store.Swapper); ok {
		return sw.Swap(ctx, current, next)
	}
	return h.cfg.Tenants.Update(ctx, next)
}

// applyPatch merges patch into current and returns the tenant to store, or
// the message of a 400.
func applyPatch(current *tenant.Tenant, patch any) (*tenant.Tenant, string) {
	doc, err := toDocument(current)
	if err != nil {
		return nil, "the stored tenant cannot be patched"
	}
	merged := mergePatch(doc, patch)
	next, err := decodeTenant(merged)
	if err != nil {
		return nil, err.Error()
	}
	if next.ID != current.ID {
		return nil, "id is immutable"
	}
	if !next.CreatedAt.Equal(current.CreatedAt) {
		return nil, "createdAt is immutable"
	}
	// updatedAt is the server's: a patch that sets it is not refused,
	// since it cannot do harm, but the store stamps its own.
	next.CreatedAt, next.UpdatedAt = current.CreatedAt, current.UpdatedAt
	if err := next.Validate(); err != nil {
		return nil, err.Error()
	}
	return next, ""
}

// delete removes the tenant and its data. With If-Match, the tenant is
// read and compared first; the store has no conditional delete, so a
// change that lands between that read and the delete is deleted with the
// tenant (the window is one round trip).
func (h *Handler) delete(r *http.Request, _ principal) reply {
	id, rep := pathID(r)
	if rep != nil {
		return *rep
	}
	match, rep := ifMatch(r)
	if rep != nil {
		return withTenant(*rep, id)
	}
	if match != nil {
		current, err := h.cfg.Tenants.Get(r.Context(), id)
		if err != nil {
			return storeFailure(err, id)
		}
		if !match(etag(current)) {
			return withTenant(preconditionFailed(), id)
		}
	}
	n, err := h.cfg.Tenants.Delete(r.Context(), id)
	if err != nil && !errors.Is(err, store.ErrNotPublished) {
		return storeFailure(err, id)
	}
	h.changed(store.EventDeleted, id)
	return reply{status: http.StatusOK, body: deleted{ID: id, DeletedKeys: n}, tenant: id, cause: err}
}

func (h *Handler) changed(typ store.EventType, id string) {
	if h.cfg.OnChange != nil {
		h.cfg.OnChange(store.Event{Type: typ, TenantID: id})
	}
}

// pathID returns the {id} of the path. A malformed ID is 400, not 404: the
// caller holds the admin key, so there is nothing to hide, and the message
// says what is wrong. It is checked here, at the boundary, before any store
// call.
func pathID(r *http.Request) (string, *reply) {
	id := r.PathValue("id")
	if err := tenant.ValidateID(id); err != nil {
		rep := fail(http.StatusBadRequest, "Invalid tenant identifier")
		return "", &rep
	}
	return id, nil
}

func withTenant(rep reply, id string) reply {
	rep.tenant = id
	return rep
}

// storeFailure maps a store error to its answer. Anything the store does
// not classify is an outage: 503 with a fixed message, the cause only in
// the log.
func storeFailure(err error, id string) reply {
	var rep reply
	switch {
	case errors.Is(err, store.ErrNotFound), errors.Is(err, tenant.ErrNotFound):
		rep = fail(http.StatusNotFound, "Tenant not found")
	case errors.Is(err, store.ErrConflict):
		rep = fail(http.StatusConflict, "Tenant was changed concurrently; read it again and retry")
	case errors.Is(err, store.ErrDomainExists):
		rep = fail(http.StatusConflict, "Domain already belongs to another tenant")
	case errors.Is(err, store.ErrIssuerAudienceExists):
		// Two tenants that trust the same issuer and audience could not
		// tell their tokens apart.
		rep = fail(http.StatusConflict, "OIDC issuer and audience already belong to another tenant")
	case errors.Is(err, store.ErrExists), errors.Is(err, tenant.ErrExists):
		rep = fail(http.StatusConflict, "Tenant already exists")
	case errors.Is(err, store.ErrDeleteUnfinished):
		// What the unfinished delete left must not pass to a new tenant
		// of the same ID; deleting again finishes it.
		rep = fail(http.StatusConflict, "An earlier delete of this tenant did not finish: DELETE the tenant again, then create it")
	case errors.Is(err, tenant.ErrInvalidID), errors.Is(err, tenant.ErrInvalid):
		rep = fail(http.StatusBadRequest, "Invalid tenant")
		rep.cause = err
	case errors.Is(err, context.Canceled):
		// The client went away; the answer goes nowhere, the log
		// line says what happened.
		rep = fail(http.StatusServiceUnavailable, "Request cancelled")
		rep.cause = err
	default:
		rep = fail(http.StatusServiceUnavailable, "Tenant service unavailable")
		rep.retryAfter = storeRetryAfter
		rep.cause = err
	}
	if tenant.ValidID(id) {
		rep.tenant = id
	}
	return rep
}
