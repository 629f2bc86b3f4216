package web

import (
	"fmt"
	"html/template"
	"strings"
)

// pages are the templates, each rendered inside layout.html.
var pages = []string{"signin", "signedin", "signedout", "error", "home", "purpose", "child", "print", "worklist"}

// shared are the templates a page uses beside its own and the layout: the
// parts of a child's record the screen page and the print view share.
var shared = map[string][]string{"child": {"templates/record.html"}, "print": {"templates/record.html"}}

func parseTemplates() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"time":       fmtTime,
		"date":       fmtDate,
		"dob":        fmtDOB,
		"plural":     plural,
		"capitalise": capitalise,
		"upper":      strings.ToUpper,
		"join":       strings.Join,
		"scheme":     schemeLabel,
		"agency":     agencyName,
	}
	out := map[string]*template.Template{}
	for _, name := range pages {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFiles, append([]string{"templates/layout.html", "templates/" + name + ".html"}, shared[name]...)...)
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}
