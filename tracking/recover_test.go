package tracking_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/tracking"
)

// entries lists dir's names, to show that nothing was created or moved.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

// Find creates nothing, and says why a data dir holds no database.
func TestFind(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(dir string) // makes dir's contents
		noDB  bool             // errors.Is ErrNoDatabase
		want  string
	}{
		{name: "no data dir", setup: func(dir string) {}, noDB: true, want: "no usage database at "},
		{name: "no file", setup: func(dir string) { os.Mkdir(dir, 0o700) }, noDB: true, want: "usage.db (is data_dir right?)"},
		{name: "an empty file", setup: func(dir string) {
			os.Mkdir(dir, 0o700)
			os.WriteFile(filepath.Join(dir, tracking.FileName), nil, 0o600)
		}, noDB: true, want: "usage.db: the file is empty (is data_dir right?)"},
		{name: "a directory", setup: func(dir string) {
			os.MkdirAll(filepath.Join(dir, tracking.FileName), 0o700)
		}, want: "usage.db is a directory, not a usage database"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			tc.setup(dir)
			before := entries(t, dir)
			_, err := tracking.Find(dir)
			if err == nil || errors.Is(err, tracking.ErrNoDatabase) != tc.noDB || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Find: %v; want an error saying %q (ErrNoDatabase: %v)", err, tc.want, tc.noDB)
			}
			if after := entries(t, dir); strings.Join(after, ",") != strings.Join(before, ",") {
				t.Errorf("Find changed the data dir: %v, then %v", before, after)
			}
		})
	}
	dir := t.TempDir()
	open(t, dir)
	if path, err := tracking.Find(dir); err != nil || path != filepath.Join(dir, tracking.FileName) {
		t.Errorf("Find on a database: %q, %v", path, err)
	}
}

// An empty file (nothing was in it) becomes a new database where it is.
func TestRecoverAnEmptyFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, tracking.FileName), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	rep, err := tracking.Recover(dir)
	if err != nil || !rep.Empty || rep.MovedTo != "" || len(rep.Problems) != 0 {
		t.Fatalf("recover of an empty file: %+v, %v", rep, err)
	}
	if names := entries(t, dir); len(names) != 1 {
		t.Errorf("the data dir holds %v; want only the new usage.db", names)
	}
	open(t, dir) // a database now
}

// A directory, or no file, in the database's place is refused, and
// nothing is moved or created.
func TestRecoverRefusesWhatIsNotADatabase(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(dir string)
		want  string
	}{
		{name: "no file", setup: func(dir string) {}, want: "usage.db (is data_dir right?): nothing was done"},
		{name: "a directory", setup: func(dir string) {
			os.Mkdir(filepath.Join(dir, tracking.FileName), 0o700)
		}, want: "usage.db is a directory, not a usage database: nothing was done"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(dir)
			before := entries(t, dir)
			rep, err := tracking.Recover(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("recover: %+v, %v; want an error saying %q", rep, err, tc.want)
			}
			if after := entries(t, dir); strings.Join(after, ",") != strings.Join(before, ",") {
				t.Errorf("recover changed the data dir: %v, then %v", before, after)
			}
		})
	}
}
