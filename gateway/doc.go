// Package gateway is Chronicle's HTTP edge for practitioners: the GraphQL
// schema and resolvers, the HTTP handler that serves them by the GraphQL over
// HTTP specification, and the one mapping from error kinds to HTTP statuses
// and GraphQL error codes that every endpoint uses.
package gateway
