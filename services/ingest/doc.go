// Package ingest turns what agencies send (HTTP requests, NDJSON and CSV
// files) into validated events on the log, reporting per event what was
// stored and what was not, and why.
package ingest
