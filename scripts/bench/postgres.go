package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// The PostgreSQL peer holds the same events in one table keyed by child,
// with an index on (child, occurred_at), and answers the same page. It gets
// the child of every event from the generator, where Chronicle has to
// resolve identity from the identifiers the agencies send; it stores and
// returns the JSON without validating it, writes no access record and
// evaluates no flags. Settings beyond the defaults: what a bulk load wants
// (a larger buffer cache and WAL between checkpoints); fsync stays on.
var pgSettings = []string{"fsync=on", "synchronous_commit=on", "shared_buffers=512MB", "max_wal_size=4GB"}

// pgBinDirs is where Debian's postgresql packages put the server binaries.
const pgBinDirs = "/usr/lib/postgresql/*/bin"

// errNoPostgres: no PostgreSQL server binaries were found.
var errNoPostgres = errors.New("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found under " + pgBinDirs + ": install Debian's postgresql package (apt-get install -y postgresql) or pass --pg-bin")

// findPostgres returns the directory of the server binaries: dir when
// given, else the newest version under pgBinDirs.
func findPostgres(dir string) (string, error) {
	candidates := []string{dir}
	if dir == "" {
		found, _ := filepath.Glob(pgBinDirs)
		slices.SortFunc(found, func(a, b string) int { return versionOf(b) - versionOf(a) })
		candidates = found
	}
	for _, d := range candidates {
		ok := true
		for _, name := range []string{"initdb", "pg_ctl", "postgres"} {
			if st, err := os.Stat(filepath.Join(d, name)); err != nil || st.IsDir() {
				ok = false
			}
		}
		if ok {
			return d, nil
		}
	}
	if dir != "" {
		return "", fmt.Errorf("--pg-bin %s: no initdb, pg_ctl and postgres there", dir)
	}
	return "", errNoPostgres
}

// versionOf reads the major version from /usr/lib/postgresql/<v>/bin.
func versionOf(bin string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(bin)))
	return v
}

// postgres is a throwaway PostgreSQL server on a loopback port.
type postgres struct {
	bin, dir string
	port     int
	runAs    string // the unprivileged user the server runs as when the bench runs as root
	Version  string
}

// startPostgres initialises a cluster in a new temporary directory and
// starts it on a free loopback port. initdb refuses to run as root, so as
// root the server runs as the postgres user (or nobody) through runuser.
func startPostgres(ctx context.Context, bin string) (*postgres, error) {
	dir, err := os.MkdirTemp("", "chronicle-bench-pg-*")
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	p := &postgres{bin: bin, dir: dir}
	if os.Geteuid() == 0 {
		if p.runAs, err = unprivileged(dir); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	out, err := p.command(ctx, "postgres", "--version").Output()
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("postgres --version: %w", err)
	}
	p.Version = strings.TrimSpace(string(out))
	if out, err := p.command(ctx, "initdb", "-D", p.data(), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-instructions").CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %w: %s", err, out)
	}
	if p.port, err = freePort(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	opts := fmt.Sprintf("-p %d -h 127.0.0.1 -k %s", p.port, dir)
	for _, s := range pgSettings {
		opts += " -c " + s
	}
	if out, err := p.command(ctx, "pg_ctl", "-D", p.data(), "-l", filepath.Join(dir, "server.log"), "-w", "-t", "60", "-o", opts, "start").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pg_ctl start: %w: %s\n%s", err, out, log)
	}
	return p, nil
}

// unprivileged finds a user for the server and gives it dir.
func unprivileged(dir string) (string, error) {
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return "", fmt.Errorf("postgres: give %s to %s: %w", dir, name, err)
		}
		return name, nil
	}
	return "", errors.New("postgres: running as root and no postgres or nobody user to run the server as")
}

func (p *postgres) data() string { return filepath.Join(p.dir, "data") }

// command runs one of the server's programs, as the unprivileged user when
// there is one, from the server's own directory.
func (p *postgres) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	path := filepath.Join(p.bin, name)
	var cmd *exec.Cmd
	if p.runAs != "" {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", p.runAs, "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	cmd.Dir = p.dir
	return cmd
}

// stop shuts the server down and removes its directory.
func (p *postgres) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := p.command(ctx, "pg_ctl", "-D", p.data(), "-m", "fast", "-w", "stop").CombinedOutput()
	os.RemoveAll(p.dir)
	if err != nil {
		return fmt.Errorf("pg_ctl stop: %w: %s", err, out)
	}
	return nil
}

func (p *postgres) connect(ctx context.Context) (*pgx.Conn, error) {
	c, err := pgx.Connect(ctx, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port))
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return c, nil
}

// freePort asks the system for a free loopback port.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// pgTable is one row per child an event is about; the primary key makes a
// re-sent event a no-op, as the stream's dedupe does.
var pgTable = []string{
	`DROP TABLE IF EXISTS events`,
	`CREATE TABLE events (child text NOT NULL, id uuid NOT NULL, occurred_at timestamptz NOT NULL, type text NOT NULL, agency text NOT NULL, event jsonb NOT NULL, PRIMARY KEY (child, id))`,
	`CREATE INDEX events_child_occurred ON events (child, occurred_at)`,
}

var pgColumns = []string{"child", "id", "occurred_at", "type", "agency", "event"}

func freshTable(ctx context.Context, c *pgx.Conn) error {
	for _, q := range pgTable {
		if _, err := c.Exec(ctx, q); err != nil {
			return fmt.Errorf("postgres: %s: %w", q, err)
		}
	}
	return nil
}

// pgRow is one row of the table.
type pgRow struct {
	child, typ, agency, event string
	id                        pgtype.UUID
	at                        time.Time
}

// rowReader reads the data set back as rows.
type rowReader struct {
	r       *reader
	pending []pgRow
}

// next returns the next row; ok is false at the end.
func (rr *rowReader) next() (row pgRow, ok bool, err error) {
	for len(rr.pending) == 0 {
		raw, rt, ok, err := rr.r.next()
		if err != nil || !ok {
			return row, false, err
		}
		id, err := uuid.Parse(rt.ID)
		if err != nil {
			return row, false, fmt.Errorf("postgres: event id %q: %w", rt.ID, err)
		}
		for _, child := range rt.Children {
			rr.pending = append(rr.pending, pgRow{child: child, typ: rt.Type, agency: rt.Agency, event: string(raw), id: pgtype.UUID{Bytes: id, Valid: true}, at: rt.OccurredAt})
		}
	}
	row, rr.pending = rr.pending[0], rr.pending[1:]
	return row, true, nil
}

// load empties the table and loads the data set with fn, which reads the
// rows from rr.
func load(ctx context.Context, c *pgx.Conn, ds dataset, fn func(rr *rowReader) (int64, error)) (int64, error) {
	if err := freshTable(ctx, c); err != nil {
		return 0, err
	}
	r, err := ds.open()
	if err != nil {
		return 0, err
	}
	defer r.close()
	return fn(&rowReader{r: r})
}

// copyLoad loads the data set into a fresh table with COPY and returns the
// rows written.
func copyLoad(ctx context.Context, c *pgx.Conn, ds dataset) (int64, error) {
	return load(ctx, c, ds, func(rr *rowReader) (int64, error) {
		n, err := c.CopyFrom(ctx, pgx.Identifier{"events"}, pgColumns, pgx.CopyFromFunc(func() ([]any, error) {
			row, ok, err := rr.next()
			if err != nil || !ok {
				return nil, err
			}
			return []any{row.child, row.id, row.at, row.typ, row.agency, row.event}, nil
		}))
		if err != nil {
			return n, fmt.Errorf("postgres: copy: %w", err)
		}
		return n, nil
	})
}

// pgBatch is the batched insert: 1,000 rows per statement, each statement
// its own transaction.
const (
	pgBatch     = 1000
	pgInsertSQL = `INSERT INTO events (child, id, occurred_at, type, agency, event)
SELECT c, i, o, t, a, e::jsonb FROM unnest($1::text[], $2::uuid[], $3::timestamptz[], $4::text[], $5::text[], $6::text[]) AS u(c, i, o, t, a, e)
ON CONFLICT DO NOTHING`
)

// insertLoad loads the data set into a fresh table with batched INSERT …
// ON CONFLICT DO NOTHING, synchronous_commit on or off, and returns the
// rows written.
func insertLoad(ctx context.Context, c *pgx.Conn, ds dataset, syncCommit bool) (int64, error) {
	mode := "off"
	if syncCommit {
		mode = "on"
	}
	if _, err := c.Exec(ctx, "SET synchronous_commit = "+mode); err != nil {
		return 0, fmt.Errorf("postgres: %w", err)
	}
	return load(ctx, c, ds, func(rr *rowReader) (int64, error) {
		var (
			written                   int64
			children, types, agencies []string
			ids                       []pgtype.UUID
			ats                       []time.Time
			bodies                    []string
		)
		for {
			row, ok, err := rr.next()
			if err != nil {
				return written, err
			}
			if ok {
				children, ids, ats, types, agencies, bodies = append(children, row.child), append(ids, row.id), append(ats, row.at), append(types, row.typ), append(agencies, row.agency), append(bodies, row.event)
			}
			if len(children) == pgBatch || (!ok && len(children) > 0) {
				tag, err := c.Exec(ctx, pgInsertSQL, children, ids, ats, types, agencies, bodies)
				if err != nil {
					return written, fmt.Errorf("postgres: insert: %w", err)
				}
				written += tag.RowsAffected()
				children, ids, ats, types, agencies, bodies = children[:0], ids[:0], ats[:0], types[:0], agencies[:0], bodies[:0]
			}
			if !ok {
				return written, nil
			}
		}
	})
}

// pgPageSQL is the chronology page: a child's first entries in occurred
// order, every column read.
const pgPageSQL = `SELECT id, type, agency, occurred_at, event FROM events WHERE child = $1 ORDER BY occurred_at LIMIT $2`

// pgPage reads one page and returns how many entries it held.
func pgPage(ctx context.Context, c *pgx.Conn, child string, first int) (int, error) {
	rs, err := c.Query(ctx, pgPageSQL, child, first)
	if err != nil {
		return 0, fmt.Errorf("postgres: page: %w", err)
	}
	defer rs.Close()
	n := 0
	for rs.Next() {
		var (
			id          pgtype.UUID
			typ, agency string
			at          time.Time
			event       []byte
		)
		if err := rs.Scan(&id, &typ, &agency, &at, &event); err != nil {
			return n, fmt.Errorf("postgres: page: %w", err)
		}
		n++
	}
	return n, rs.Err()
}
