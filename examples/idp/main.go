package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/seedmcp/tenancy/oidcx/oidctest"
)

// defaultAddr is where the provider listens when IDP_ADDR is unset.
const defaultAddr = "127.0.0.1:9000"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Getenv, os.Stderr, nil)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// run starts the provider as the environment (read through getenv) says,
// sends its issuer on ready when ready is not nil, and serves until ctx
// is done.
func run(ctx context.Context, getenv func(string) string, logOut io.Writer, ready chan<- string) error {
	addr := getenv("IDP_ADDR")
	if addr == "" {
		addr = defaultAddr
	}
	client := oidctest.Client{ID: getenv("IDP_CLIENT_ID"), Secret: getenv("IDP_CLIENT_SECRET"), Audience: getenv("IDP_AUDIENCE")}
	for u := range strings.SplitSeq(getenv("IDP_REDIRECT_URI"), ",") {
		if u = strings.TrimSpace(u); u != "" {
			client.RedirectURIs = append(client.RedirectURIs, u)
		}
	}
	var errs []error
	if client.ID == "" {
		errs = append(errs, errors.New("idp: IDP_CLIENT_ID is required: the tenant's oidc.clientId"))
	}
	if len(client.RedirectURIs) == 0 {
		errs = append(errs, errors.New("idp: IDP_REDIRECT_URI is required: the tenant's <base URL>/oauth/callback, such as http://acme.localhost:8080/oauth/callback"))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	idp, err := oidctest.NewServerAt(addr)
	if err != nil {
		return fmt.Errorf("idp: IDP_ADDR: %w", err)
	}
	defer idp.Close()
	idp.RegisterClient(client)
	if sub := getenv("IDP_SUBJECT"); sub != "" {
		idp.SetSubject(sub)
	}
	log := slog.New(slog.NewTextHandler(logOut, nil))
	log.Info("idp: test identity provider listening; every login is automatic",
		"issuer", idp.Issuer(), "client_id", client.ID, "redirect_uris", client.RedirectURIs)
	if ready != nil {
		ready <- idp.Issuer()
	}
	<-ctx.Done()
	log.Info("idp: shutting down")
	return nil
}
