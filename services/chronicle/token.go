package main

import (
	"context"
	"fmt"
	"time"

	"github.com/chronicle-hub/chronicle/gateway/auth"
	"github.com/chronicle-hub/chronicle/services/app"
)

// token issues a bearer token signed with the data directory's local key,
// for people and systems on a hub without an OpenID Connect provider.
func token(_ context.Context, args []string, std stdio) int {
	fs := newFlags("token", "--sub ID --name NAME --role ROLE [--agency AGENCY] [--ttl 8h] [--data DIR]",
		"Issues a bearer token signed with the key chronicle serve keeps in --data (it must exist: start serve first).\n"+
			"roles: hub, practitioner, manager, analyst, auditor, publisher. Every role but analyst and auditor needs --agency.\n"+
			"A publisher token publishes as its agency; hub and manager tokens publish (the hub's own events) only with --agency hub.", std)
	dataDir := fs.String("data", "./data", "the data directory whose signing key signs the token (as used by chronicle serve)")
	sub := fs.String("sub", "", "subject: the person's or system's stable id")
	name := fs.String("name", "", "display name for the access log")
	role := fs.String("role", "", "role")
	agency := fs.String("agency", "", "agency code (required for hub, manager, practitioner and publisher)")
	ttl := fs.Duration("ttl", 8*time.Hour, "how long the token is valid")
	maxTTL := fs.Duration("max-ttl", 0, "the longest the server accepts, when its --token-max-ttl or --publisher-token-max-ttl is not the default (24h; 2160h for publisher)")
	if err := parseFlags(fs, args, std); err != nil {
		return exitFor(err)
	}
	limit := auth.DefaultLifetimes.For(auth.Role(*role))
	if *maxTTL > 0 {
		limit = *maxTTL
	}
	if *ttl > limit {
		fmt.Fprintf(std.err, "token: --ttl %s is longer than a %s token may live (%s): the server would refuse it; give a shorter --ttl (or --max-ttl if the server allows more)\n", *ttl, *role, limit)
		return exitUsage
	}
	if needsAgency(auth.Role(*role)) && *agency == "" {
		fmt.Fprintf(std.err, "token: role %q needs --agency: %s\n", *role, agencyAdvice[auth.Role(*role)])
		return exitUsage
	}
	key, err := app.LoadSigningKey(*dataDir)
	if err != nil {
		fmt.Fprintf(std.err, "token: %v\n", err)
		return exitFailure
	}
	tok, err := auth.Issue(key, *sub, *name, auth.Role(*role), *agency, time.Now(), *ttl)
	if err != nil {
		fmt.Fprintf(std.err, "token: %v\n", err)
		return exitUsage
	}
	if r := auth.Role(*role); (r == auth.Hub || r == auth.Manager) && *agency != auth.HubAgency {
		fmt.Fprintf(std.err, "token: note: a %s token with agency %q reads but may not publish (only --agency %s may)\n", r, *agency, auth.HubAgency)
	}
	fmt.Fprintln(std.out, tok)
	return exitOK
}

// agencyAdvice says, per role that needs one, what --agency to give. A
// token that publishes must name the agency it publishes as (the ingest API
// refuses any other), and the local issuer asks for it on the hub and
// manager roles too, so that whether the token may publish is decided when
// it is issued rather than discovered at the first refused request.
var agencyAdvice = map[auth.Role]string{
	auth.Publisher:    "the agency whose events the system publishes",
	auth.Practitioner: "the practitioner's own agency, whose restricted entries they see",
	auth.Hub:          "hub for hub staff (may also publish the hub's own events), or the person's own agency (reads only)",
	auth.Manager:      "hub for hub managers (may also publish the hub's own events), or the person's own agency (reads only)",
}

func needsAgency(r auth.Role) bool { _, ok := agencyAdvice[r]; return ok }
