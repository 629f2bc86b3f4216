// Package cin reads and writes the Department for Education's Children in
// Need census XML, every schema year from 2017, and maps each child to
// Chronicle events. It streams: one child's elements are held at a time,
// however large the file. Standard library only.
package cin

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// node is one element of a child's record as read, with the line it starts
// on, so that a problem can say where in the file it is.
type node struct {
	name string
	text string
	line int
	kids []*node
}

// all returns the children named name.
func (n *node) all(name string) []*node {
	var out []*node
	for _, k := range n.kids {
		if k.name == name {
			out = append(out, k)
		}
	}
	return out
}

// one returns the first child named name, or nil.
func (n *node) one(name string) *node {
	for _, k := range n.kids {
		if k.name == name {
			return k
		}
	}
	return nil
}

// value is the trimmed text of the first child named name, "" when absent.
func (n *node) value(name string) string {
	if k := n.one(name); k != nil {
		return k.text
	}
	return ""
}

// Header is what a census file says about itself.
type Header struct {
	// Year is the collection year as the file gives it (CollectionDetails
	// Year, or the year of ReferenceDate): 2023 is the 2022-23 census,
	// whose reference date is 31 March 2023. Zero when the file says
	// neither.
	Year int
	// ReferenceDate is the census date, "YYYY-MM-DD", when given.
	ReferenceDate string
	// LEA is the three-digit DfE local authority number, when given.
	LEA string
	// DateTime is when the file was produced, as written.
	DateTime string
}

// Reader streams a census file child by child.
type Reader struct {
	dec    *xml.Decoder
	Header Header
	done   bool
}

// ErrNotCensus: the file is XML but not a census (its root is not Message,
// or it has no Children).
var ErrNotCensus = errors.New("cin: not a Children in Need census file")

// SyntaxError is malformed or truncated XML: reading stops there. Line is
// where the problem was found; ChildLine and Child say which child was being
// read (zero and "" outside a child).
type SyntaxError struct {
	Line      int
	ChildLine int
	Child     string
	Err       error
}

func (e *SyntaxError) Error() string {
	msg := fmt.Sprintf("malformed XML at line %d: %v", e.Line, e.Err)
	if errors.Is(e.Err, io.ErrUnexpectedEOF) {
		msg = fmt.Sprintf("the file ends at line %d inside an element (truncated?)", e.Line)
	}
	if e.ChildLine > 0 {
		msg += fmt.Sprintf("; the child starting at line %d and everything after it were not read", e.ChildLine)
	}
	return msg
}

func (e *SyntaxError) Unwrap() error { return e.Err }

// NewReader reads up to the first child: the root element and the header.
// It returns a *SyntaxError for malformed XML and ErrNotCensus for XML of
// another shape.
func NewReader(r io.Reader) (*Reader, error) {
	rd := &Reader{dec: xml.NewDecoder(r)}
	root := false
	for {
		tok, err := rd.token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("%w: no Children element", ErrNotCensus)
			}
			return nil, err
		}
		start, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch {
		case !root:
			if start.Name.Local != "Message" {
				return nil, fmt.Errorf("%w: the root element is %s, not Message", ErrNotCensus, start.Name.Local)
			}
			root = true
		case start.Name.Local == "Header":
			h, err := rd.tree(start, 0)
			if err != nil {
				return nil, err
			}
			rd.Header = readHeader(h)
		case start.Name.Local == "Children":
			return rd, nil
		default:
			if _, err := rd.tree(start, 0); err != nil {
				return nil, err
			}
		}
	}
}

func readHeader(h *node) Header {
	var out Header
	if cd := h.one("CollectionDetails"); cd != nil {
		out.Year, _ = strconv.Atoi(cd.value("Year"))
		out.ReferenceDate = cd.value("ReferenceDate")
	}
	if src := h.one("Source"); src != nil {
		out.LEA = src.value("LEA")
		out.DateTime = src.value("DateTime")
	}
	if out.Year == 0 && len(out.ReferenceDate) >= 10 {
		// The census year is the one its 31 March reference date ends.
		y, err1 := strconv.Atoi(out.ReferenceDate[:4])
		m, err2 := strconv.Atoi(out.ReferenceDate[5:7])
		if err1 == nil && err2 == nil {
			if m >= 4 {
				y++
			}
			out.Year = y
		}
	}
	return out
}

// next returns the next Child element as a tree, or io.EOF after the last.
func (rd *Reader) next() (*node, error) {
	if rd.done {
		return nil, io.EOF
	}
	for {
		tok, err := rd.token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			line, _ := rd.dec.InputPos()
			if t.Name.Local != "Child" {
				// Unknown elements among the children are a problem of
				// their own, reported like a child that cannot be read.
				return rd.tree(t, line)
			}
			return rd.tree(t, line)
		case xml.EndElement:
			// </Children>: the rest of the file is not read.
			rd.done = true
			return nil, io.EOF
		}
	}
}

// token reads one token, turning decoder errors into *SyntaxError.
func (rd *Reader) token() (xml.Token, error) {
	tok, err := rd.dec.Token()
	if err == nil || errors.Is(err, io.EOF) {
		return tok, err
	}
	line, _ := rd.dec.InputPos()
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		line = se.Line
		if strings.Contains(se.Msg, "unexpected EOF") {
			err = io.ErrUnexpectedEOF
		}
	}
	return nil, &SyntaxError{Line: line, Err: err}
}

// tree reads the element opened by start into a node. childLine is the
// line of the enclosing Child (for errors); 0 when not in a child.
func (rd *Reader) tree(start xml.StartElement, childLine int) (*node, error) {
	line, _ := rd.dec.InputPos()
	if childLine == 0 && start.Name.Local == "Child" {
		childLine = line
	}
	n := &node{name: start.Name.Local, line: line}
	var text strings.Builder
	for {
		tok, err := rd.token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = &SyntaxError{Line: line, Err: io.ErrUnexpectedEOF}
			}
			var se *SyntaxError
			if errors.As(err, &se) && se.ChildLine == 0 && childLine > 0 {
				se.ChildLine = childLine
			}
			return n, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			k, err := rd.tree(t, childLine)
			n.kids = append(n.kids, k)
			if err != nil {
				return n, err
			}
		case xml.CharData:
			text.Write(t)
		case xml.EndElement:
			n.text = strings.TrimSpace(text.String())
			return n, nil
		}
	}
}

// childID digs the LA child id out of a (possibly partial) child tree.
func childID(n *node) string {
	if n == nil {
		return ""
	}
	if ids := n.one("ChildIdentifiers"); ids != nil {
		return ids.value("LAchildID")
	}
	return ""
}
