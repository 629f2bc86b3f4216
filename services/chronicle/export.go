package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/chronicle-hub/chronicle/gateway"
	"github.com/chronicle-hub/chronicle/gateway/access"
	"github.com/chronicle-hub/chronicle/services/csvcell"
)

// exportVerb is a thin client of the running hub's export endpoints: the
// read model, the roles and the access log are the server's.
func exportVerb(ctx context.Context, args []string, std stdio) int {
	what := ""
	if len(args) > 0 {
		what, args = args[0], args[1:]
	}
	fs := newFlags("export", "annex-a --from YYYY-MM-DD --to YYYY-MM-DD [--out DIR]\ncin-census --year YYYY [--out FILE]",
		"Asks the running hub (--server) with a token that may export (manager or analyst; set CHRONICLE_TOKEN) and a purpose of access.", std)
	server := fs.String("server", "http://127.0.0.1:8080", "the running hub's HTTP address")
	token := fs.String("token", "", "bearer token (better set as CHRONICLE_TOKEN)")
	why := fs.String("purpose", "", "purpose of access, for the access log (for example audit or statutory_return)")
	detail := fs.String("purpose-detail", "", "what the export is for, in words")
	from := fs.String("from", "", "annex-a: first day of the period (YYYY-MM-DD, London)")
	to := fs.String("to", "", "annex-a: last day of the period (YYYY-MM-DD, London)")
	year := fs.Int("year", 0, "cin-census: the census year (2024 is the 2023-24 collection, to 31 March 2024)")
	la := fs.String("la", "", "cin-census: the three-digit DfE LA number for the file's header")
	out := fs.String("out", "", "annex-a: the directory for the CSV files and annex-a.xlsx (default annex-a); cin-census: the file (default cin-census-YYYY.xml)")
	switch what {
	case "annex-a", "cin-census":
	case "-h", "--help", "help":
		fs.SetOutput(std.out)
		fs.Usage()
		return exitOK
	default:
		fs.Usage()
		return exitUsage
	}
	if err := parseFlags(fs, args, std); err != nil {
		return exitFor(err)
	}
	if *token == "" {
		fmt.Fprintln(std.err, "export: a token is required: set CHRONICLE_TOKEN (chronicle token --role analyst ...)")
		return exitUsage
	}
	q := url.Values{}
	switch what {
	case "annex-a":
		q.Set("from", *from)
		q.Set("to", *to)
	case "cin-census":
		q.Set("year", fmt.Sprint(*year))
		if *la != "" {
			q.Set("la", *la)
		}
	}
	body, err := getExport(ctx, *server+"/v1/export/"+what+"?"+q.Encode(), *token, *why, *detail)
	if err != nil {
		fmt.Fprintf(std.err, "export %s: %v\n", what, err)
		return exitFailure
	}
	if what == "cin-census" {
		return writeCensus(body, *out, *year, std)
	}
	return writeAnnexA(body, *out, std)
}

// getExport fetches an export and returns its body, or the server's error.
func getExport(ctx context.Context, u, token, why, detail string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set(access.HeaderPurpose, why)
	if detail != "" {
		req.Header.Set(access.HeaderPurposeDetail, detail)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w (is chronicle serve running at that address?)", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		msg := strings.TrimSpace(string(body))
		if json.Unmarshal(body, &e) == nil && e.Error.Message != "" {
			msg = e.Error.Message
		}
		return nil, fmt.Errorf("the hub answered %s: %s", resp.Status, msg)
	}
	return body, nil
}

func writeAnnexA(body []byte, dir string, std stdio) int {
	var resp gateway.AnnexAResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		fmt.Fprintf(std.err, "export annex-a: the hub's answer is not Annex A: %v\n", err)
		return exitFailure
	}
	if dir == "" {
		dir = "annex-a"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintf(std.err, "export annex-a: %v\n", err)
		return exitFailure
	}
	book := excelize.NewFile()
	defer book.Close()
	kind := "with the LA's child ids"
	if resp.Pseudonymised {
		kind = "pseudonymised"
	}
	fmt.Fprintf(std.out, "Annex A, %s to %s, %s\n", resp.From, resp.To, kind)
	for i, l := range resp.Lists {
		name := filepath.Join(dir, fmt.Sprintf("list-%d-%s.csv", l.Number, strings.ReplaceAll(strings.ToLower(l.Title), " ", "-")))
		if err := writeCSVFile(name, l.Columns, l.Rows); err != nil {
			fmt.Fprintf(std.err, "export annex-a: %v\n", err)
			return exitFailure
		}
		sheet := fmt.Sprintf("List %d", l.Number)
		if i == 0 {
			_ = book.SetSheetName("Sheet1", sheet)
		} else if _, err := book.NewSheet(sheet); err != nil {
			fmt.Fprintf(std.err, "export annex-a: %v\n", err)
			return exitFailure
		}
		for r, row := range append([][]string{l.Columns}, l.Rows...) {
			cells := make([]any, len(row))
			for c, v := range row {
				cells[c] = v
			}
			cell, _ := excelize.CoordinatesToCellName(1, r+1)
			if err := book.SetSheetRow(sheet, cell, &cells); err != nil {
				fmt.Fprintf(std.err, "export annex-a: %v\n", err)
				return exitFailure
			}
		}
		fmt.Fprintf(std.out, "  List %d %-32s %6d rows  %s\n", l.Number, l.Title, len(l.Rows), name)
	}
	xlsx := filepath.Join(dir, "annex-a.xlsx")
	if err := book.SaveAs(xlsx); err != nil {
		fmt.Fprintf(std.err, "export annex-a: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(std.out, "  workbook: %s\n", xlsx)
	return exitOK
}

// writeCSVFile writes a header and rows, every cell through csvcell so
// that none runs as a spreadsheet formula.
func writeCSVFile(path string, header []string, rows [][]string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csvcell.NewWriter(f)
	_ = w.Write(header)
	for _, row := range rows {
		_ = w.Write(row)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

func writeCensus(body []byte, path string, year int, std stdio) int {
	if path == "" {
		path = fmt.Sprintf("cin-census-%d.xml", year)
	}
	if err := os.WriteFile(path, body, 0o644); err != nil {
		fmt.Fprintf(std.err, "export cin-census: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(std.out, "CIN census %d: %s (%d bytes)\n", year, path, len(body))
	return exitOK
}
