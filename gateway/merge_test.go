package gateway

import (
	"testing"

	"github.com/graphql-go/graphql"
)

// Each group of the schema builds its own fields; a name two groups both
// define must fail the build rather than one silently replacing the other.
func TestMergeRefusesAFieldDefinedTwice(t *testing.T) {
	a := graphql.Fields{"child": {Type: graphql.String}}
	b := graphql.Fields{"children": {Type: graphql.String}}
	got, err := merge(a, b)
	if err != nil || len(got) != 2 {
		t.Fatalf("merge of distinct groups = %v, %v", got, err)
	}
	if _, err := merge(a, b, graphql.Fields{"child": {Type: graphql.Int}}); err == nil {
		t.Fatal("merge let a second group redefine child")
	}
}
