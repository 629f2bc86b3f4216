package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"

	"github.com/chronicle-hub/chronicle/services/app"
)

func serve(ctx context.Context, args []string, std stdio) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(std.err)
	var cfg app.Config
	fs.StringVar(&cfg.DataDir, "data", "./data", "data directory; JetStream's files live here and survive restarts")
	fs.StringVar(&cfg.HTTPAddr, "http", "127.0.0.1:8080", "HTTP listen address")
	fs.StringVar(&cfg.NATSURL, "nats-url", "", "use this NATS server or cluster instead of the embedded one")
	fs.StringVar(&cfg.NATSListen, "nats-listen", "127.0.0.1:4222", "client address of the embedded NATS server")
	fs.BoolVar(&cfg.NoSyncAlways, "no-sync-always", false, "embedded NATS: do not fsync each event before acknowledging it (faster; an acknowledged event can be lost on power failure)")
	fs.IntVar(&cfg.Streams.Replicas, "replicas", 1, "JetStream replicas for Chronicle's streams (3 on a three-node cluster)")
	fs.DurationVar(&cfg.Streams.DuplicateWindow, "duplicate-window", 0, "how long re-sent event ids are recognised as duplicates by the server (default 24h)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := parseFlags(fs, args); err != nil {
		return exitUsage
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(std.err, "serve: --log-level: %v\n", err)
		return exitUsage
	}
	cfg.Logger = slog.New(slog.NewTextHandler(std.err, &slog.HandlerOptions{Level: level}))

	a := app.New(cfg)
	if err := a.Run(ctx); err != nil {
		cfg.Logger.Error("start failed", "err", err)
		return exitUsage
	}
	fmt.Fprintf(std.out, "Chronicle is running.\n  ingest:  POST http://%s/v1/events\n  health:  http://%s/readyz\n  NATS:    %s\nPress Ctrl-C to stop.\n",
		a.HTTPAddr(), a.HTTPAddr(), a.NATSClientURL())
	<-ctx.Done()
	cfg.Logger.Info("shutting down")
	if err := a.Close(); err != nil {
		cfg.Logger.Error("shutdown", "err", err)
		return exitUsage
	}
	return exitOK
}
