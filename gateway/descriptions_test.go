package gateway_test

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/graphql-go/graphql"

	"github.com/chronicle-hub/chronicle/gateway"
	"github.com/chronicle-hub/chronicle/projections"
)

// describedQuery asks introspection for every description GraphiQL's
// documentation pane shows.
const describedQuery = `{
  __schema {
    types {
      kind name description
      fields(includeDeprecated: true) { name description args { name description } }
      inputFields { name description }
    }
  }
}`

// builtIn are the specification's scalars, described by the specification
// rather than by Chronicle.
var builtIn = map[string]bool{"String": true, "Int": true, "Float": true, "Boolean": true, "ID": true}

// Every type, field, argument and input field of the schema has a
// description, so that GraphiQL's documentation pane is enough on its own to
// use the API. The schema is built over an empty read model: introspection
// reads no data and needs no caller.
func TestSchemaIsDescribed(t *testing.T) {
	schema, err := gateway.NewSchema(projections.NewModel(), nil, gateway.Options{})
	if err != nil {
		t.Fatal(err)
	}
	res := graphql.Do(graphql.Params{Schema: schema, RequestString: describedQuery})
	if len(res.Errors) > 0 {
		t.Fatalf("introspection: %v", res.Errors)
	}
	raw, err := json.Marshal(res.Data)
	if err != nil {
		t.Fatal(err)
	}
	type named struct{ Name, Description string }
	var got struct {
		Schema struct {
			Types []struct {
				Kind, Name, Description string
				Fields                  []struct {
					Name, Description string
					Args              []named
				}
				InputFields []named
			}
		} `json:"__schema"`
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	var missing []string
	undescribed := func(what, path, desc string) {
		if strings.TrimSpace(desc) == "" {
			missing = append(missing, what+" "+path)
		}
	}
	types := 0
	for _, ty := range got.Schema.Types {
		if strings.HasPrefix(ty.Name, "__") || builtIn[ty.Name] {
			continue
		}
		types++
		undescribed(strings.ToLower(ty.Kind), ty.Name, ty.Description)
		for _, f := range ty.Fields {
			undescribed("field", ty.Name+"."+f.Name, f.Description)
			for _, a := range f.Args {
				undescribed("argument", ty.Name+"."+f.Name+"("+a.Name+")", a.Description)
			}
		}
		for _, f := range ty.InputFields {
			undescribed("input field", ty.Name+"."+f.Name, f.Description)
		}
	}
	if types == 0 {
		t.Fatal("introspection listed no types: the test would pass on nothing")
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		t.Errorf("%d parts of the schema have no description; GraphiQL shows them bare:\n\t%s", len(missing), strings.Join(missing, "\n\t"))
	}
}
