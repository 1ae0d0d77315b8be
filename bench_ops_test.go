package tollgate_test

import (
	"context"
	"io"
	"net/url"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/keys"
	"github.com/tollgate-dev/tollgate/internal/metrics"
	"github.com/tollgate-dev/tollgate/pipeline"
	"github.com/tollgate-dev/tollgate/plugins/builtin"
	"github.com/tollgate-dev/tollgate/providers/openai"
)

// newOpsBenchEngine is newBenchEngine as the host runs it: metrics observe
// every call and time every stage, and, with withKeys, every call carries
// a virtual key.
func newOpsBenchEngine(b *testing.B, withKeys bool) (*core.Engine, string) {
	up := inMemory{newCanned()}
	base, _ := url.Parse("http://upstream/v1")
	m := metrics.New(metrics.Options{})
	track := builtin.NewTrack([]core.Sink{builtin.NewWriterSink(io.Discard)}, []string{"discard"}, 256, nil)
	validate, _ := builtin.NewValidate(builtin.ValidateConfig{MaxBodyBytes: 1 << 20})
	stages := []core.Stage{
		m.WrapStage(pipeline.Spec{Name: "validate", Kind: "builtin"}, validate),
		m.WrapStage(pipeline.Spec{Name: "call", Kind: "builtin"}, builtin.NewCall(builtin.DefaultCallConfig(), up)),
	}
	p := core.NewPipeline(stages, []core.Completer{track}, track.Close)
	opts := []core.Option{core.WithPipeline(p), core.WithFormats(openai.New()), core.WithObserver(m),
		core.WithUpstream(core.NewUpstream("openai", "openai", base, "sk-bench", "OPENAI_API_KEY"))}
	var secret string
	if withKeys {
		st := keys.NewStore(b.TempDir())
		var err error
		secret, _, err = st.Create(keys.Spec{Customer: "acme"})
		if err != nil {
			b.Fatal(err)
		}
		a, err := keys.NewAuthenticator(st, "", nil)
		if err != nil {
			b.Fatal(err)
		}
		opts = append(opts, core.WithAuthenticator(a))
	}
	eng := core.New(opts...)
	b.Cleanup(func() { eng.Close(context.Background()) })
	return eng, secret
}

// BenchmarkPipelineMetrics is BenchmarkPipeline with metrics on (the host's
// default): its difference from BenchmarkPipeline is what metrics cost.
func BenchmarkPipelineMetrics(b *testing.B) { benchOps(b, false) }

// BenchmarkPipelineMetricsKeys adds a virtual key check to every call.
func BenchmarkPipelineMetricsKeys(b *testing.B) { benchOps(b, true) }

func benchOps(b *testing.B, withKeys bool) {
	eng, secret := newOpsBenchEngine(b, withKeys)
	h := eng.Handler()
	b.ReportAllocs()
	for b.Loop() {
		serveChat(b, h, strings.NewReader(benchBody), "acme", secret)
	}
}
