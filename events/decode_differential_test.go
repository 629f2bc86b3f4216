package events_test

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/chronicle-hub/chronicle/events"
	"github.com/chronicle-hub/chronicle/scripts/demodata"
)

// decodeBothWays decodes data the fast way and the old way (encoding/json
// alone) and says how they differ, if they do: the event, field by field,
// and the error, word for word.
func decodeBothWays(data []byte) string {
	*events.UseV2 = false
	oldE, oldErr := events.Check(data, differentialNow)
	*events.UseV2 = true
	newE, newErr := events.Check(data, differentialNow)
	if fmt.Sprint(oldErr) != fmt.Sprint(newErr) {
		return fmt.Sprintf("errors differ:\nold %v\nnew %v", oldErr, newErr)
	}
	if !reflect.DeepEqual(oldE, newE) {
		return fmt.Sprintf("events differ:\nold %+v\nnew %+v", oldE, newE)
	}
	return ""
}

var differentialNow = time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)

// variants are ways an agency's document can be off, each applied to a
// valid one: the fast decoder must refuse or accept each exactly as
// encoding/json does, with the same messages.
var variants = []struct {
	name string
	edit func([]byte) []byte
}{
	{"as sent", func(b []byte) []byte { return b }},
	{"a name in another case", func(b []byte) []byte { return bytes.Replace(b, []byte(`"agency"`), []byte(`"Agency"`), 1) }},
	{"a payload name in another case", func(b []byte) []byte { return bytes.Replace(b, []byte(`"payload":{"`), []byte(`"payload":{"X`), 1) }},
	{"an unknown field", func(b []byte) []byte { return bytes.Replace(b, []byte(`{"id"`), []byte(`{"colour":"red","id"`), 1) }},
	{"a repeated name", func(b []byte) []byte { return bytes.Replace(b, []byte(`{"id"`), []byte(`{"summary":"x","id"`), 1) }},
	{"a number for a string", func(b []byte) []byte { return bytes.Replace(b, []byte(`"agency":"`), []byte(`"agency":12,"x":"`), 1) }},
	{"schema version as text", func(b []byte) []byte {
		return bytes.Replace(b, []byte(`"schema_version":1`), []byte(`"schema_version":"1"`), 1)
	}},
	{"schema version with an exponent", func(b []byte) []byte {
		return bytes.Replace(b, []byte(`"schema_version":1`), []byte(`"schema_version":1e0`), 1)
	}},
	{"schema version with a fraction", func(b []byte) []byte {
		return bytes.Replace(b, []byte(`"schema_version":1`), []byte(`"schema_version":1.0`), 1)
	}},
	{"schema version negative zero", func(b []byte) []byte {
		return bytes.Replace(b, []byte(`"schema_version":1`), []byte(`"schema_version":-0`), 1)
	}},
	{"null subjects", func(b []byte) []byte {
		return bytes.Replace(b, []byte(`"subjects":[`), []byte(`"subjects":null,"y":[`), 1)
	}},
	{"null summary", func(b []byte) []byte {
		return bytes.Replace(b, []byte(`"summary":"`), []byte(`"summary":null,"z":"`), 1)
	}},
	{"invalid UTF-8", func(b []byte) []byte { return bytes.Replace(b, []byte(`"summary":"`), []byte("\"summary\":\"\xff"), 1) }},
	{"an escaped lone surrogate", func(b []byte) []byte { return bytes.Replace(b, []byte(`"summary":"`), []byte(`"summary":"\ud800`), 1) }},
	{"escaped characters", func(b []byte) []byte {
		return bytes.Replace(b, []byte(`"summary":"`), []byte(`"summary":"\u00e9\n\"\/`), 1)
	}},
	{"data after the value", func(b []byte) []byte { return append(append([]byte{}, b...), []byte(` {}`)...) }},
	{"whitespace around", func(b []byte) []byte { return append(append([]byte(" \n\t"), b...), []byte("\r\n ")...) }},
	{"truncated", func(b []byte) []byte { return b[:len(b)/2] }},
	{"an array", func(b []byte) []byte { return append(append([]byte("["), b...), ']') }},
	{"payload an array", func(b []byte) []byte { return bytes.Replace(b, []byte(`"payload":{`), []byte(`"payload":[{`), 1) }},
	{"payload null", func(b []byte) []byte {
		return bytes.Replace(b, []byte(`"payload":{`), []byte(`"payload":null,"p":{`), 1)
	}},
	{"a payload number as text", func(b []byte) []byte { return bytes.Replace(b, []byte(`":1`), []byte(`":"1"`), 1) }},
	{"a payload boolean as a number", func(b []byte) []byte { return bytes.Replace(b, []byte(`":true`), []byte(`":1`), 1) }},
	{"a big number", func(b []byte) []byte {
		return bytes.Replace(b, []byte(`"schema_version":1`), []byte(`"schema_version":99999999999999999999`), 1)
	}},
}

// The fast decoder agrees with encoding/json on every demo event, every
// catalogue example, and each of them spoilt in the ways above.
func TestStrictUnmarshalAgrees(t *testing.T) {
	var docs [][]byte
	for _, spec := range events.Catalogue() {
		data, err := events.Encode(spec.ExampleEvent())
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, data)
	}
	for seed := range int64(3) {
		for _, e := range demodata.Generate(demodata.Config{Seed: seed + 1, Children: 60}) {
			data, err := events.Encode(e)
			if err != nil {
				t.Fatal(err)
			}
			docs = append(docs, data)
		}
	}
	checked := 0
	for i, doc := range docs {
		for _, v := range variants {
			if v.name != "as sent" && i%7 != 0 {
				continue // every spoilt variant of a seventh of the documents
			}
			data := v.edit(doc)
			if diff := decodeBothWays(data); diff != "" {
				t.Fatalf("document %d, %s: %s\n%s", i, v.name, diff, data)
			}
			checked++
		}
	}
	t.Logf("%d documents compared", checked)
}

// FuzzStrictUnmarshal: for any input, the fast decoder's event and
// error are encoding/json's.
func FuzzStrictUnmarshal(f *testing.F) {
	for _, spec := range events.Catalogue() {
		data, err := events.Encode(spec.ExampleEvent())
		if err != nil {
			f.Fatal(err)
		}
		for _, v := range variants {
			f.Add(v.edit(data))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if diff := decodeBothWays(data); diff != "" {
			t.Fatalf("%s\n%q", diff, data)
		}
	})
}

// A decoded event shares no memory with its input: a caller may reuse its
// buffer (a NATS message's, a file reader's) at once.
func TestDecodedEventOwnsItsText(t *testing.T) {
	for _, spec := range events.Catalogue() {
		data, err := events.Encode(spec.ExampleEvent())
		if err != nil {
			t.Fatal(err)
		}
		e, err := events.Decode(data)
		if err != nil {
			t.Fatal(err)
		}
		before, _ := events.Encode(e)
		for i := range data {
			data[i] = 'x'
		}
		if after, _ := events.Encode(e); !bytes.Equal(before, after) {
			t.Fatalf("%s: the event changed with its input:\n%s\n%s", spec.Type, before, after)
		}
	}
}
