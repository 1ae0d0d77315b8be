package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/tracking"
)

// Exit statuses of `tollgate usage recover` beyond 0 (everything copied)
// and 1 (nothing was: no file to recover, or nothing in it could be read).
const (
	// recoverPartial: some entries were copied and some could not be read.
	// The gateway can start on the new file; someone should look at what
	// was lost.
	recoverPartial = 3
)

// recoverCmd moves a damaged usage database aside and salvages it. It
// exits 0 when every entry was copied, recoverPartial when some could not
// be read, and 1 when nothing could: no file, not a file, or a file of
// which nothing could be read (both meta pages damaged).
func recoverCmd(cfg *config.Config, asJSON bool, stdout, stderr io.Writer) int {
	rep, err := tracking.Recover(cfg.DataDir)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate usage recover: %v\n", err)
		return 1
	}
	code := recoverStatus(rep)
	if asJSON {
		out, _ := json.MarshalIndent(rep, "", "  ")
		fmt.Fprintf(stdout, "%s\n", out)
	} else {
		printRecovered(stdout, rep)
	}
	switch code {
	case 1:
		fmt.Fprintf(stderr, "tollgate usage recover: nothing could be read from %s: %s.\n"+
			"  None of its queued events, dead letters or ledger rows is in the new, empty %s; the damaged file is kept as it was.\n"+
			"  With a backup of usage.db: stop tollgate, copy the backup over %[3]s, and start it.\n"+
			"  Without one: tollgate starts on the new file and tracks usage from then on; the events it had not delivered are not delivered, "+
			"and those it had are at the sinks (the tracker, a jsonl file) to rebuild reports from (docs/operations.md)\n",
			rep.MovedTo, rep.Unreadable, rep.Path)
	case recoverPartial:
		fmt.Fprintf(stderr, "tollgate usage recover: recovered in part (exit %d): not everything could be read (the lost: lines say what, where and how many); "+
			"the damaged file is kept at %s. Start tollgate: what was copied is delivered. "+
			"Events on a damaged page may already be at the sink; rebuild what is missing from the tracker or a jsonl sink (docs/operations.md)\n",
			recoverPartial, rep.MovedTo)
	}
	return code
}

// recoverStatus is the exit status a report gives.
func recoverStatus(rep *tracking.RecoverReport) int {
	switch {
	case rep.Complete():
		return 0
	case rep.Unreadable != "":
		return 1
	}
	return recoverPartial
}

// printRecovered prints what was copied and what was not, for people.
func printRecovered(w io.Writer, rep *tracking.RecoverReport) {
	if rep.Empty {
		fmt.Fprintf(w, "tollgate usage recover: %s was empty: nothing was in it, and it is now a new usage database\n", rep.Path)
		return
	}
	fmt.Fprintf(w, "tollgate usage recover: the old file is kept at %s\n", rep.MovedTo)
	if rep.Unreadable == "" {
		for _, k := range slices.Sorted(maps.Keys(rep.Copied)) {
			fmt.Fprintf(w, "  copied %-28s %d entries\n", k, rep.Copied[k])
		}
	}
	for _, p := range rep.Problems {
		fmt.Fprintf(w, "  lost: %s\n", p)
	}
	if rep.Unreadable != "" {
		return // said on stderr, with what to do
	}
	copied, lost := rep.Events()
	if rep.Complete() {
		fmt.Fprintf(w, "  queued events and dead letters: %d copied; nothing was lost\n", copied)
		return
	}
	fmt.Fprintf(w, "  queued events and dead letters: %d copied, %s could not be read\n", copied, countText(lost))
}

// countText says a count of at most n, -1 being unknown.
func countText(n int) string {
	switch {
	case n < 0:
		return "an unknown number"
	case n == 0:
		return "0"
	}
	return fmt.Sprintf("up to %d", n)
}
