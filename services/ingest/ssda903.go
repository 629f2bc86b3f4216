package ingest

import (
	"context"
	"errors"

	"github.com/chronicle-hub/chronicle/services/eventlog"
)

// ImportSSDA903Dir imports a directory of SSDA903 tables.
func ImportSSDA903Dir(ctx context.Context, pub *eventlog.Publisher, dir string, opts ImportOptions) (StatutorySummary, error) {
	return StatutorySummary{}, errors.New("import: ssda903 is not available yet")
}
