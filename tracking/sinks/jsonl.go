package sinks

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/datasync"
)

// JSONLConfig configures a [JSONL] sink.
type JSONLConfig struct {
	// Path is the file events are appended to; it and its directory are
	// created.
	Path string `json:"path"`
	// RotateBytes starts a new file when the current one would grow past
	// this size; 0 never rotates. The full file is renamed
	// NAME-YYYYMMDDTHHMMSS.sssZ.EXT beside it.
	RotateBytes int64 `json:"rotate_bytes"`
	// KeepFiles is how many rotated files are kept (oldest deleted first);
	// 0 keeps all.
	KeepFiles int `json:"keep_files"`
	// Sync makes each batch durable (fsync) before it counts as delivered
	// (default true). Without it, a machine crash can lose the last
	// batches written; a process crash cannot.
	Sync *bool `json:"sync"`
}

// JSONL appends usage events as JSON Lines to a file and rotates it by size.
// Each batch is one write; a batch is never split across files. Called from
// one goroutine at a time, as every sink is.
type JSONL struct {
	cfg  JSONLConfig
	sync bool
	f    *os.File
	size int64
	buf  bytes.Buffer
	now  func() time.Time
}

// OpenJSONL opens (creating) the file at cfg.Path for appending.
func OpenJSONL(cfg JSONLConfig) (*JSONL, error) {
	if cfg.Path == "" {
		return nil, fmt.Errorf("path: required for a jsonl sink")
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	s := &JSONL{cfg: cfg, sync: cfg.Sync == nil || *cfg.Sync, now: time.Now}
	if err := os.MkdirAll(filepath.Dir(cfg.Path), 0o750); err != nil {
		return nil, fmt.Errorf("jsonl sink: %w", err)
	}
	if err := s.open(); err != nil {
		return nil, err
	}
	return s, nil
}

// check reports what in cfg, besides the path, OpenJSONL refuses.
func (cfg JSONLConfig) check() error {
	if cfg.RotateBytes < 0 || cfg.KeepFiles < 0 {
		return fmt.Errorf("rotate_bytes and keep_files: must not be negative")
	}
	return nil
}

func (s *JSONL) open() error {
	f, err := os.OpenFile(s.cfg.Path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("jsonl sink: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("jsonl sink: %w", err)
	}
	s.f, s.size = f, fi.Size()
	return nil
}

// Write appends the events, rotating first if they would not fit.
func (s *JSONL) Write(_ context.Context, events []*core.UsageEvent) error {
	if err := encodeLines(&s.buf, events); err != nil {
		return err
	}
	return s.append()
}

// WriteJSON appends events already in JSON, one line each.
func (s *JSONL) WriteJSON(_ context.Context, events [][]byte) error {
	joinLines(&s.buf, events)
	return s.append()
}

// append writes buf as one write, rotating first if it would not fit.
func (s *JSONL) append() error {
	if s.f == nil {
		if err := s.open(); err != nil {
			return err
		}
	}
	if s.cfg.RotateBytes > 0 && s.size > 0 && s.size+int64(s.buf.Len()) > s.cfg.RotateBytes {
		if err := s.rotate(); err != nil {
			return err
		}
	}
	n, err := s.f.Write(s.buf.Bytes())
	s.size += int64(n)
	if err != nil {
		return fmt.Errorf("jsonl sink: %w", err)
	}
	if s.sync {
		// fdatasync: an appended file's new size is synced with its data.
		// It parks this goroutine, not its processor (internal/datasync).
		if err := datasync.Fdatasync(s.f); err != nil {
			return fmt.Errorf("jsonl sink: %w", err)
		}
	}
	return nil
}

// rotate renames the current file aside, opens a new one and deletes the
// oldest rotated files beyond KeepFiles.
func (s *JSONL) rotate() error {
	if err := s.f.Close(); err != nil {
		return fmt.Errorf("jsonl sink: %w", err)
	}
	s.f = nil
	ext := filepath.Ext(s.cfg.Path)
	base := strings.TrimSuffix(s.cfg.Path, ext)
	aside := base + "-" + s.now().UTC().Format("20060102T150405.000Z") + ext
	if err := os.Rename(s.cfg.Path, aside); err != nil {
		return fmt.Errorf("jsonl sink: rotating: %w", err)
	}
	if err := s.open(); err != nil {
		return err
	}
	if s.cfg.KeepFiles > 0 {
		old, _ := filepath.Glob(globEscape(base) + "-*" + globEscape(ext))
		slices.Sort(old) // the timestamp sorts by time
		for len(old) > s.cfg.KeepFiles {
			os.Remove(old[0])
			old = old[1:]
		}
	}
	return nil
}

func globEscape(s string) string {
	r := strings.NewReplacer(`*`, `\*`, `?`, `\?`, `[`, `\[`)
	return r.Replace(s)
}

// Close closes the file.
func (s *JSONL) Close() error {
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}

var _ core.Sink = (*JSONL)(nil)
