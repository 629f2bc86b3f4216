package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/chronicle-hub/chronicle/gateway/auth"
	"github.com/chronicle-hub/chronicle/services/app"
)

// token issues a bearer token signed with the data directory's local key,
// for people and systems on a hub without an OpenID Connect provider.
func token(_ context.Context, args []string, std stdio) int {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(std.err)
	fs.Usage = func() {
		fmt.Fprintln(std.err, "usage: chronicle token --sub ID --name NAME --role ROLE [--agency AGENCY] [--ttl 8h] [--data DIR]\n\nroles: hub, practitioner (needs --agency), manager, analyst, auditor, publisher (needs --agency)")
		fs.PrintDefaults()
	}
	dataDir := fs.String("data", "./data", "the data directory whose signing key signs the token (as used by chronicle serve)")
	sub := fs.String("sub", "", "subject: the person's or system's stable id")
	name := fs.String("name", "", "display name for the access log")
	role := fs.String("role", "", "role")
	agency := fs.String("agency", "", "agency code (required for practitioner and publisher)")
	ttl := fs.Duration("ttl", 8*time.Hour, "how long the token is valid")
	if err := parseFlags(fs, args); err != nil {
		return exitUsage
	}
	key, err := app.LoadSigningKey(*dataDir)
	if err != nil {
		fmt.Fprintf(std.err, "token: %v\n", err)
		return exitUsage
	}
	tok, err := auth.Issue(key, *sub, *name, auth.Role(*role), *agency, time.Now(), *ttl)
	if err != nil {
		fmt.Fprintf(std.err, "token: %v\n", err)
		return exitUsage
	}
	fmt.Fprintln(std.out, tok)
	return exitOK
}

// demoTokens are the ready-made callers serve --demo prints.
var demoTokens = []struct {
	sub, name string
	role      auth.Role
	agency    string
}{
	{"demo-hub", "Harper Hub (MASH practitioner)", auth.Hub, "hub"},
	{"demo-practitioner", "Parker Practitioner (school nurse)", auth.Practitioner, "health"},
	{"demo-manager", "Morgan Manager", auth.Manager, "hub"},
	{"demo-analyst", "Avery Analyst", auth.Analyst, ""},
	{"demo-auditor", "Aubrey Auditor", auth.Auditor, ""},
	{"demo-publisher", "Police system (publisher)", auth.Publisher, "police"},
}
