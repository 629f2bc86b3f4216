package gateway

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/graphql-go/graphql/gqlerrors"
	"github.com/graphql-go/graphql/language/ast"
	"github.com/graphql-go/graphql/language/location"
	"github.com/graphql-go/graphql/language/source"

	"github.com/chronicle-hub/chronicle/events"
)

// Limits bound what one GraphQL request may ask for. graphql-go has no
// limits of its own, and some of its validation rules cost more than the
// document's length: its visitor copies the chain of ancestors at every
// node (time grows with nodes × nesting, so 8,000 nested brackets took
// 27 s), OverlappingFieldsCanBeMerged compares every pair of fields that
// share a response name (1,000 copies of one field: 0.2 s), and it follows
// fragment spreads with no guard against cycles (a cyclic pair overflows
// the stack, which kills the process). So every document passes cheap,
// linear checks first (see precheck), and only then meets graphql-go's
// rules, parser included.
type Limits struct {
	// MaxDepth is the deepest nesting of fields outside introspection.
	MaxDepth int
	// MaxAliases caps aliased fields, introspection's included, which
	// multiply work without nesting.
	MaxAliases int
	// MaxComplexity caps the estimated number of values resolved: each field
	// costs 1, and a list field multiplies its children by its page size
	// (the literal `first`, or MaxPage when it comes from a variable).
	MaxComplexity int
	// MaxPage caps `first` on every connection.
	MaxPage int
	// DefaultPage is `first` when omitted.
	DefaultPage int

	// Introspection is public (GraphiQL's documentation pane loads before a
	// token is pasted), so it is bounded on its own terms. Zero values take
	// DefaultLimits'.

	// MaxIntrospectionDepth is the deepest nesting of fields under __schema
	// or __type, counted from the top of the operation like MaxDepth.
	// GraphiQL's introspection query needs 15: its TypeRef fragment nests
	// ofType nine times below __schema { types { fields { args { type.
	MaxIntrospectionDepth int
	// MaxIntrospectionFields caps the __schema and __type fields in one
	// request, counting every occurrence (through aliases and fragments):
	// a whole schema is the largest answer introspection gives.
	MaxIntrospectionFields int
	// MaxIntrospectionLists caps how many introspection list fields (types,
	// fields, args, ...) may enclose one another. GraphiQL's query needs 3
	// (types, fields, args); one more lets a query walk the schema's graph,
	// fields { type { fields { type { ... } } } }, multiplying its answer by
	// the number of fields at every step.
	MaxIntrospectionLists int

	// Structural limits, checked on the text before it is parsed and on
	// the parsed document before any validation rule runs, for every
	// request, with a token or without. They are twice or more what the
	// largest legitimate query needs (GraphiQL's introspection query: 1.3
	// KB, 176 tokens, nesting 10, 4 definitions, 450 fields counted over
	// its definitions with fragments expanded; a full chronology query
	// about 70 tokens), and small enough that the worst documents they
	// admit (a thousand copies of one field, which the overlap rule
	// compares pairwise; a thousand unknown arguments, an error each) cost
	// under 0.1 s to validate on a busy 2-core machine. Zero values take
	// DefaultLimits'.

	// MaxDocumentBytes caps the query text (variables are apart).
	MaxDocumentBytes int
	// MaxTokens caps the document's tokens, so that parsing is bounded.
	MaxTokens int
	// MaxNesting caps how deeply brackets, braces and parentheses nest in
	// the text, and how deeply selections nest once fragment spreads are
	// followed. Everything graphql-go does costs time in proportion to
	// nodes × nesting, so this, with MaxTokens, is what bounds it.
	MaxNesting int
	// MaxDefinitions caps the operations and fragments in one document.
	MaxDefinitions int
	// MaxFields caps the field selections of the whole document, counted
	// with every fragment spread replaced by its fragment: what bounds the
	// rules that compare fields pairwise, and a chain of fragments each
	// spreading the next twice, which doubles the count at every link.
	MaxFields int
}

// DefaultLimits fit the largest legitimate query: one child's 1,000-entry
// chronology page with every field, or GraphiQL's introspection query.
var DefaultLimits = Limits{MaxDepth: 12, MaxAliases: 30, MaxComplexity: 60000, MaxPage: 1000, DefaultPage: 100,
	MaxIntrospectionDepth: 15, MaxIntrospectionFields: 2, MaxIntrospectionLists: 3,
	MaxDocumentBytes: 32 << 10, MaxTokens: 4000, MaxNesting: 32, MaxDefinitions: 40, MaxFields: 1000}

// withDefaults fills the introspection and structural limits a caller
// left at zero, so that limits written before they existed still admit
// GraphiQL and still protect the server.
func (l Limits) withDefaults() Limits {
	fill := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	d := DefaultLimits
	fill(&l.MaxIntrospectionDepth, d.MaxIntrospectionDepth)
	fill(&l.MaxIntrospectionFields, d.MaxIntrospectionFields)
	fill(&l.MaxIntrospectionLists, d.MaxIntrospectionLists)
	fill(&l.MaxDocumentBytes, d.MaxDocumentBytes)
	fill(&l.MaxTokens, d.MaxTokens)
	fill(&l.MaxNesting, d.MaxNesting)
	fill(&l.MaxDefinitions, d.MaxDefinitions)
	fill(&l.MaxFields, d.MaxFields)
	return l
}

// Codes of the errors prechecks give: a document over a limit, and one
// that can never be valid (a fragment that spreads itself or does not
// exist), coded as graphql-go's own validation failures are.
var (
	codeTooLarge = events.KindTooLarge.String()
	codeInvalid  = "GRAPHQL_VALIDATION_FAILED"
)

// problem is one error in a document, located at byte pos of src (no
// location when pos is negative).
func problem(src *source.Source, pos int, code, format string, args ...any) gqlerrors.FormattedError {
	e := gqlerrors.FormattedError{Message: fmt.Sprintf(format, args...), Extensions: map[string]any{"code": code}}
	if pos >= 0 {
		e.Locations = []location.SourceLocation{newLines(src.Body).at(pos)}
	}
	return e
}

// lines indexes where each line of a text starts, so that an error's
// position becomes a line and column in O(log lines). graphql-go's own
// location.GetLocation compiles a regular expression and runs it over the
// whole text for every error it reports, so a document with thousands of
// errors costs thousands of passes over itself; the handler parses with
// NoSource, which leaves graphql-go's errors located by offset (line 1,
// column offset+1), and locates them with this, once per request.
type lines []int

// newLines finds the line starts of text as GraphQL counts lines: \n,
// \r\n or \r ends one.
func newLines(text []byte) lines {
	starts := lines{0}
	for i, c := range text {
		if c == '\n' || c == '\r' && (i+1 == len(text) || text[i+1] != '\n') {
			starts = append(starts, i+1)
		}
	}
	return starts
}

// at is the line and column of byte pos.
func (l lines) at(pos int) location.SourceLocation {
	i := sort.Search(len(l), func(i int) bool { return l[i] > pos }) - 1
	return location.SourceLocation{Line: i + 1, Column: pos - l[i] + 1}
}

// locate gives errors graphql-go reported against a document parsed with
// NoSource their true lines and columns in src.
func locate(src *source.Source, errs []gqlerrors.FormattedError) []gqlerrors.FormattedError {
	var l lines
	for i := range errs {
		for j, loc := range errs[i].Locations {
			if l == nil {
				l = newLines(src.Body)
			}
			if loc.Line == 1 && loc.Column >= 1 && loc.Column <= len(src.Body) {
				errs[i].Locations[j] = l.at(loc.Column - 1)
			}
		}
	}
	return errs
}

// scan is the check before parsing: one pass over the text that counts
// tokens and nesting as graphql-go's lexer would see them (strings, block
// strings and comments skipped), stopping at the first limit passed.
// It is lenient about anything malformed, which the parser reports.
func (l Limits) scan(src *source.Source) []gqlerrors.FormattedError {
	text := src.Body
	if len(text) > l.MaxDocumentBytes {
		return []gqlerrors.FormattedError{problem(src, -1, codeTooLarge, "query is %d bytes; the limit is %d", len(text), l.MaxDocumentBytes)}
	}
	tokens, depth := 0, 0
	for i := 0; i < len(text); {
		start := i
		switch c := text[i]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ',':
			i++
			continue
		case c == '#':
			for i < len(text) && text[i] != '\n' && text[i] != '\r' {
				i++
			}
			continue
		case c == '"':
			i = skipString(text, i)
		case c == '(' || c == '[' || c == '{':
			depth++
			if depth > l.MaxNesting {
				return []gqlerrors.FormattedError{problem(src, start, codeTooLarge, "query nests brackets, braces or parentheses more than %d deep", l.MaxNesting)}
			}
			i++
		case c == ')' || c == ']' || c == '}':
			depth = max(depth-1, 0)
			i++
		case isNameByte(c):
			for i < len(text) && isNameByte(text[i]) {
				i++
			}
		default: // punctuation, part of a number, or a byte the parser refuses
			i++
		}
		if tokens++; tokens > l.MaxTokens {
			return []gqlerrors.FormattedError{problem(src, start, codeTooLarge, "query has more than %d tokens", l.MaxTokens)}
		}
	}
	return nil
}

func isNameByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// skipString returns the position after the string or block string that
// starts at text[i], or the end of the text (or line) when it does not
// end.
func skipString(text []byte, i int) int {
	if bytes.HasPrefix(text[i:], []byte(`"""`)) {
		for j := i + 3; j < len(text); j++ {
			switch {
			case text[j] == '\\' && bytes.HasPrefix(text[j+1:], []byte(`"""`)):
				j += 3
			case bytes.HasPrefix(text[j:], []byte(`"""`)):
				return j + 3
			}
		}
		return len(text)
	}
	for j := i + 1; j < len(text); j++ {
		switch text[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		case '\n', '\r':
			return j
		}
	}
	return len(text)
}

// precheck is the check after parsing and before any validation rule: the
// document's definitions counted; every fragment spread named, defined
// once and not spreading itself; and, following spreads, its nesting and
// its fields counted (each fragment measured once, so the check is linear
// whatever the spreads multiply). Then each operation is measured against
// the other limits. Only a document that passes reaches graphql-go's
// rules, whose cost these bounds then bound.
func (l Limits) precheck(src *source.Source, doc *ast.Document) []gqlerrors.FormattedError {
	if n := len(doc.Definitions); n > l.MaxDefinitions {
		return []gqlerrors.FormattedError{problem(src, -1, codeTooLarge, "query has %d definitions (operations and fragments); the limit is %d", n, l.MaxDefinitions)}
	}
	s := shape{limits: l, src: src, frags: map[string]*ast.FragmentDefinition{}, sizes: map[string]size{}}
	for _, def := range doc.Definitions {
		f, ok := def.(*ast.FragmentDefinition)
		if !ok || f.Name == nil {
			continue
		}
		if _, dup := s.frags[f.Name.Value]; dup {
			return []gqlerrors.FormattedError{problem(src, start(f), codeInvalid, "fragment %s is defined more than once", f.Name.Value)}
		}
		s.frags[f.Name.Value] = f
	}
	for _, def := range doc.Definitions {
		if op, ok := def.(*ast.OperationDefinition); ok {
			for _, v := range op.VariableDefinitions {
				if v.Variable == nil || v.Variable.Name == nil || !completeType(v.Type) {
					return []gqlerrors.FormattedError{problem(src, start(v), codeInvalid, "a variable definition needs a name and a type, as in ($id: ID!)")}
				}
			}
		}
	}
	fields := 0
	for _, def := range doc.Definitions {
		var sz size
		switch d := def.(type) {
		case *ast.OperationDefinition:
			sz = s.selections(d.SelectionSet)
		case *ast.FragmentDefinition:
			if d.Name != nil {
				sz = s.fragment(d.Name.Value, start(d))
			}
		}
		if s.err != nil {
			return []gqlerrors.FormattedError{*s.err}
		}
		if sz.depth > l.MaxNesting {
			return []gqlerrors.FormattedError{problem(src, start(def), codeTooLarge, "selections nest %d deep once fragments are followed; the limit is %d", sz.depth, l.MaxNesting)}
		}
		if fields = min(fields+sz.fields, l.MaxFields+1); fields > l.MaxFields {
			return []gqlerrors.FormattedError{problem(src, start(def), codeTooLarge, "query selects more than %d fields once fragments are expanded", l.MaxFields)}
		}
	}
	for _, def := range doc.Definitions {
		if op, ok := def.(*ast.OperationDefinition); ok {
			if msg := l.measureOperation(op, s.frags); msg != "" {
				return []gqlerrors.FormattedError{problem(src, start(op), codeTooLarge, "%s", msg)}
			}
		}
	}
	return nil
}

// completeType reports whether a variable's type names a type at every
// level. graphql-go's parser accepts "($a:)" with no type at all, and its
// validation then dereferences the missing type (a panic the handler would
// turn into a 500), so the handler refuses it first.
func completeType(t ast.Type) bool {
	switch t := t.(type) {
	case *ast.Named:
		return t != nil && t.Name != nil
	case *ast.List:
		return t != nil && completeType(t.Type)
	case *ast.NonNull:
		return t != nil && completeType(t.Type)
	}
	return false
}

func start(n ast.Node) int {
	if loc := n.GetLoc(); loc != nil {
		return loc.Start
	}
	return -1
}

// size is what a selection set holds once its spreads are followed.
type size struct{ fields, depth int }

// shape measures selection sets, each fragment once.
type shape struct {
	limits   Limits
	src      *source.Source
	frags    map[string]*ast.FragmentDefinition
	sizes    map[string]size // fragments measured
	visiting []string        // fragments being measured, outermost first
	err      *gqlerrors.FormattedError
}

// selections returns the size of set, or records the first unknown or
// cyclic spread in s.err. Counts stop just past MaxFields, so a chain of
// doubling spreads cannot overflow them.
func (s *shape) selections(set *ast.SelectionSet) size {
	var out size
	if set == nil {
		return out
	}
	for _, sel := range set.Selections {
		var in size
		switch x := sel.(type) {
		case *ast.Field:
			in = s.selections(x.SelectionSet)
			in.fields++
			in.depth++
		case *ast.InlineFragment:
			in = s.selections(x.SelectionSet)
		case *ast.FragmentSpread:
			if x.Name != nil {
				in = s.fragment(x.Name.Value, start(x))
			}
		}
		if s.err != nil {
			return out
		}
		out.fields = min(out.fields+in.fields, s.limits.MaxFields+1)
		out.depth = max(out.depth, in.depth)
	}
	return out
}

// fragment returns the size of the fragment name, spread (or defined) at
// byte pos, measuring it the first time only.
func (s *shape) fragment(name string, pos int) size {
	if sz, ok := s.sizes[name]; ok {
		return sz
	}
	f, ok := s.frags[name]
	if !ok {
		e := problem(s.src, pos, codeInvalid, "unknown fragment %s", name)
		s.err = &e
		return size{}
	}
	if i := slices.Index(s.visiting, name); i >= 0 {
		e := problem(s.src, pos, codeInvalid, "fragment %s spreads itself: %s", name, strings.Join(append(slices.Clone(s.visiting[i:]), name), " → "))
		s.err = &e
		return size{}
	}
	s.visiting = append(s.visiting, name)
	sz := s.selections(f.SelectionSet)
	s.visiting = s.visiting[:len(s.visiting)-1]
	if s.err == nil {
		s.sizes[name] = sz
	}
	return sz
}

// measureOperation measures op, following fragment spreads, against the
// depth, alias, complexity and introspection limits, and says what it is
// over ("" when nothing). precheck calls it only once the fragments are
// known to be acyclic and the expanded document within MaxFields, so its
// walk, which does not memoise, is bounded.
func (l Limits) measureOperation(op *ast.OperationDefinition, frags map[string]*ast.FragmentDefinition) string {
	m := &measure{frags: frags, limits: l, visiting: map[string]bool{}}
	depth, cost := m.selections(op.SelectionSet, place{level: 1})
	switch {
	case depth > l.MaxDepth:
		return fmt.Sprintf("query is %d levels deep; the limit is %d", depth, l.MaxDepth)
	case m.aliases > l.MaxAliases:
		return fmt.Sprintf("query uses %d aliases; the limit is %d", m.aliases, l.MaxAliases)
	case cost > l.MaxComplexity:
		return fmt.Sprintf("query could resolve about %d values; the limit is %d (ask for smaller pages or fewer fields)", cost, l.MaxComplexity)
	case m.schemaFields > l.MaxIntrospectionFields:
		return fmt.Sprintf("query asks for __schema or __type %d times; the limit is %d", m.schemaFields, l.MaxIntrospectionFields)
	case m.introDepth > l.MaxIntrospectionDepth:
		return fmt.Sprintf("introspection is %d levels deep; the limit is %d", m.introDepth, l.MaxIntrospectionDepth)
	case m.introLists > l.MaxIntrospectionLists:
		return fmt.Sprintf("introspection nests %d lists; the limit is %d", m.introLists, l.MaxIntrospectionLists)
	}
	return ""
}

type measure struct {
	frags    map[string]*ast.FragmentDefinition
	limits   Limits
	aliases  int
	visiting map[string]bool

	// Introspection, measured apart from the rest.
	schemaFields int // __schema and __type occurrences
	introDepth   int // deepest field under one of them
	introLists   int // most introspection lists enclosing one another
}

// place is where a selection set sits: its fields' level (1 for the
// operation's own), whether it is under __schema or __type, and how many
// introspection list fields enclose it.
type place struct {
	level int
	intro bool
	lists int
}

// selections returns the depth below and including this level, and the
// cost, of everything but introspection, which it records in m.
func (m *measure) selections(set *ast.SelectionSet, at place) (depth, cost int) {
	if set == nil {
		return at.level - 1, 0
	}
	depth = at.level - 1
	for _, sel := range set.Selections {
		var d, c int
		switch s := sel.(type) {
		case *ast.Field:
			if s.Alias != nil {
				m.aliases++
			}
			name := ""
			if s.Name != nil {
				name = s.Name.Value
			}
			below := place{level: at.level + 1, intro: at.intro, lists: at.lists}
			root := !at.intro && (name == "__schema" || name == "__type")
			if root {
				m.schemaFields++
				below.intro = true
			}
			if at.intro && isIntrospectionList(name) {
				below.lists++
				m.introLists = max(m.introLists, below.lists)
			}
			d, c = m.selections(s.SelectionSet, below)
			d = max(d, at.level)
			switch {
			case root:
				m.introDepth = max(m.introDepth, d)
				d, c = at.level, 1
			case at.intro:
				c = 1 + c
			default:
				c = 1 + m.multiplier(s)*c
			}
		case *ast.InlineFragment:
			d, c = m.selections(s.SelectionSet, at)
		case *ast.FragmentSpread:
			name := s.Name.Value
			frag := m.frags[name]
			if frag == nil || m.visiting[name] {
				continue // unknown or cyclic: precheck refuses both first
			}
			m.visiting[name] = true
			d, c = m.selections(frag.SelectionSet, at)
			m.visiting[name] = false
		}
		depth = max(depth, d)
		cost += c
		if cost > m.limits.MaxComplexity*10 {
			return depth, cost // already far over: stop counting
		}
	}
	return depth, cost
}

// isIntrospectionList names the list fields of the introspection types
// (__Schema, __Type, __Field, __Directive) whose items have fields.
func isIntrospectionList(name string) bool {
	switch name {
	case "types", "directives", "fields", "args", "inputFields", "interfaces", "possibleTypes", "enumValues":
		return true
	}
	return false
}

// multiplier is the page size a field's `first` argument asks for.
func (m *measure) multiplier(f *ast.Field) int {
	for _, a := range f.Arguments {
		if a.Name == nil || a.Name.Value != "first" {
			continue
		}
		if v, ok := a.Value.(*ast.IntValue); ok {
			n, err := strconv.Atoi(v.Value)
			if err == nil && n > 0 {
				return min(n, m.limits.MaxPage)
			}
		}
		return m.limits.MaxPage
	}
	if f.SelectionSet != nil && isConnection(f.Name.Value) {
		return m.limits.DefaultPage
	}
	return 1
}

// isConnection names the paginated fields that default to DefaultPage.
func isConnection(name string) bool {
	switch name {
	case "chronology", "children", "flaggedChildren", "accessLog", "myAccessLog", "possibleMatches", "identityConflicts":
		return true
	}
	return false
}
