package gateway

import (
	"time"

	"github.com/graphql-go/graphql"
	"github.com/graphql-go/graphql/language/ast"
)

// dateTime is an RFC 3339 time with nanoseconds. graphql-go's own DateTime
// drops fractions of a second, so a receivedAt passed back as asKnownAt
// could fall before the event it came from.
var dateTime = graphql.NewScalar(graphql.ScalarConfig{
	Name:        "DateTime",
	Description: "An RFC 3339 time, for example 2024-03-02T14:05:00Z; fractions of a second (to the nanosecond) are kept. Inputs need a zone; outputs are always in UTC.",
	Serialize: func(v any) any {
		switch t := v.(type) {
		case time.Time:
			return t.UTC().Format(time.RFC3339Nano)
		case *time.Time:
			if t == nil {
				return nil
			}
			return t.UTC().Format(time.RFC3339Nano)
		}
		return nil
	},
	ParseValue: func(v any) any {
		s, ok := v.(string)
		if !ok {
			return nil
		}
		return parseDateTime(s)
	},
	ParseLiteral: func(v ast.Value) any {
		s, ok := v.(*ast.StringValue)
		if !ok {
			return nil
		}
		return parseDateTime(s.Value)
	},
})

func parseDateTime(s string) any {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return nil // graphql-go reports the argument as invalid
	}
	return t
}
