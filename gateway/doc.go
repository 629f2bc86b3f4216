// Package gateway is Chronicle's read side for practitioners: the GraphQL
// schema and resolvers, the read path both faces share (Reads), and the
// HTTP handler that serves GraphQL by the GraphQL over HTTP specification.
// The plumbing every endpoint shares (the one mapping from an error to its
// status and code) is in gateway/httpapi; the access log's record in
// gateway/access.
package gateway
