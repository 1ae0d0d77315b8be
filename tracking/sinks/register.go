package sinks

import (
	"fmt"
	"os"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/pipeline"
)

func init() {
	pipeline.RegisterSink("jsonl", newJSONL)
	pipeline.RegisterSink("stdout", newStdout)
	pipeline.RegisterSink("http", newHTTP)
}

func newJSONL(s pipeline.SinkSpec, env pipeline.Env) (core.Sink, error) {
	var cfg JSONLConfig
	if err := s.Decode(&cfg); err != nil {
		return nil, err
	}
	if cfg.Path == "" {
		return nil, fmt.Errorf("%s: path: required for a jsonl sink, e.g. data/usage.jsonl", s.Path)
	}
	if err := cfg.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", s.Path, err)
	}
	if env.CheckOnly {
		return NewWriter(nil), nil
	}
	sink, err := OpenJSONL(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Path, err)
	}
	return sink, nil
}

func newStdout(s pipeline.SinkSpec, _ pipeline.Env) (core.Sink, error) {
	var cfg struct{}
	if err := s.Decode(&cfg); err != nil {
		return nil, err
	}
	return NewWriter(os.Stdout), nil
}

func newHTTP(s pipeline.SinkSpec, env pipeline.Env) (core.Sink, error) {
	var cfg HTTPConfig
	if err := s.Decode(&cfg); err != nil {
		return nil, err
	}
	var token string
	if cfg.TokenEnv != "" {
		lookup := env.Lookup
		if lookup == nil {
			lookup = os.LookupEnv
		}
		var ok bool
		if token, ok = lookup(cfg.TokenEnv); !ok || token == "" {
			return nil, fmt.Errorf("%s: token_env: the variable %s is not set; set it to the tracker's token (or remove token_env)", s.Path, cfg.TokenEnv)
		}
	}
	sink, err := NewHTTP(cfg, token)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Path, err)
	}
	return sink, nil
}
