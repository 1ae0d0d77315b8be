package pipeline_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/pipeline"
)

type nopSink struct{ dir string }

func (nopSink) Write(context.Context, []*core.UsageEvent) error { return nil }
func (nopSink) Close() error                                    { return nil }

func init() {
	pipeline.RegisterSink("test", func(s pipeline.SinkSpec, _ pipeline.Env) (core.Sink, error) {
		var cfg struct {
			Dir string `json:"dir"`
		}
		if err := s.Decode(&cfg); err != nil {
			return nil, err
		}
		return nopSink{cfg.Dir}, nil
	})
}

func TestSinkRegistry(t *testing.T) {
	tests := []struct {
		name    string
		spec    pipeline.SinkSpec
		wantErr string
	}{
		{"registered type builds", pipeline.SinkSpec{Type: "test", Config: map[string]any{"dir": "x"}, Path: "sinks[0]"}, ""},
		{"unknown type names the registered ones", pipeline.SinkSpec{Type: "nope", Path: "sinks[1]"}, `sinks[1]: type: unknown sink type "nope" (registered: `},
		{"unknown key names the entry", pipeline.SinkSpec{Type: "test", Config: map[string]any{"dri": "x"}, Path: "sinks[2]"}, `sinks[2]: unknown key "dri"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := pipeline.NewSink(tt.spec, pipeline.Env{})
			if tt.wantErr == "" {
				if err != nil || s.(nopSink).dir != "x" {
					t.Fatalf("NewSink = %v, %v", s, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}
