package admin_test

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/authcorp/libs/go/src/fault/admin"
)

func compileSchema(t *testing.T, b []byte) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("v1.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("v1.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func validate(t *testing.T, s *jsonschema.Schema, what string, body []byte) {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if err := s.Validate(v); err != nil {
		t.Fatalf("%s does not match schema/v1.json: %v\n%s", what, err, body)
	}
}

// TestSchema checks every document the Handler serves, in every state the
// fixture can reach, against schema/v1.json; and that the served schema is
// the file in the module.
func TestSchema(t *testing.T) {
	file, err := os.ReadFile("schema/v1.json")
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, admin.WithAuthorizer(allow))
	served := f.do(t, "GET", "/api/v1/schema.json", nil)
	if !bytes.Equal(served.body, file) {
		t.Fatal("the served schema differs from schema/v1.json")
	}
	s := compileSchema(t, file)
	check := func(what string) {
		for _, p := range []string{"/api/v1/policies", "/api/v1/policies/pay", "/api/v1/policies/search", "/api/v1/events"} {
			validate(t, s, what+" "+p, f.do(t, "GET", p, nil).body)
		}
	}
	check("fresh")
	f.fail(3)
	check("open")
	validate(t, s, "control", f.do(t, "POST", "/api/v1/policies/pay/breaker/open", strings.NewReader(`{"reason":"r"}`)).body)
	check("forced")
	validate(t, s, "problem", f.do(t, "GET", "/api/v1/policies/nope", nil).body)
	// The schema rejects what it should: an unknown field, a bad state.
	var doc map[string]any
	_ = json.Unmarshal(f.do(t, "GET", "/api/v1/policies/pay", nil).body, &doc)
	doc["policy"].(map[string]any)["circuitBreaker"].(map[string]any)["state"] = "sideways"
	b, _ := json.Marshal(doc)
	v, _ := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if s.Validate(v) == nil {
		t.Fatal("the schema accepts a breaker state 'sideways'")
	}
}
