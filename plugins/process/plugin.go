package process

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/plugins/internal/abi"
	"github.com/tollgate-dev/tollgate/plugins/internal/pluginhost"
)

// Plugin is a running process plugin: one or more processes (config
// processes), each restarted on its own when it crashes, each serving one
// call at a time. It is safe for concurrent use.
type Plugin struct {
	name    string
	cfg     Config
	log     *slog.Logger
	deliver core.Deliverer
	grants  abi.Grants
	config  []byte
	sum     []byte
	timeout time.Duration
	hooks   int
	slots   []*slot
	free    chan *slot // the processes that are up and not in a call

	mu     sync.Mutex
	up     int           // processes up
	noneUp chan struct{} // closed while no process is up
	closed bool
	stop   chan struct{}
}

// conn is one started plugin process.
type conn struct {
	client  *plugin.Client
	rpc     *rpcClient
	started time.Time
	// down says why the process was taken out of service, once it was
	// (guarded by Plugin.mu): a call still in flight on it fails with it.
	down string
}

// Option configures [Open].
type Option func(*options)

type options struct {
	log     *slog.Logger
	deliver core.Deliverer
	sink    bool
}

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithDeliverer sets where the plugin's deliveries go (the outbox).
func WithDeliverer(d core.Deliverer) Option { return func(o *options) { o.deliver = d } }

func asSink() Option { return func(o *options) { o.sink = true } }

// Open checks the executable against its pinned sha256, starts it, and
// asks it which hooks it serves.
func Open(ctx context.Context, name string, cfg Config, opts ...Option) (*Plugin, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	cfg.defaults(o.sink)
	if err := cfg.check(o.sink); err != nil {
		return nil, err
	}
	prep, err := pluginhost.Prepare(name, o.log, o.deliver, cfg.Config)
	if err != nil {
		return nil, err
	}
	log := prep.Log
	_, h, err := pluginhost.ReadPinned(cfg.Path, cfg.SHA256, "executable")
	if err != nil {
		return nil, err
	}
	p := &Plugin{name: name, cfg: cfg, log: log, deliver: prep.Deliver, config: prep.Config, sum: h[:],
		grants: abi.Grants{DeliverTo: cfg.DeliverTo, EmitTo: cfg.EmitTo}, timeout: time.Duration(cfg.CallTimeout),
		free: make(chan *slot, cfg.Processes), noneUp: make(chan struct{}), stop: make(chan struct{})}
	if err := p.startAll(ctx); err != nil {
		return nil, err
	}
	c := p.slots[0].cur
	log.Info("process plugin started", "path", cfg.Path, "hooks", abi.HookList(p.hooks), "processes", len(p.slots), "protocol", c.client.NegotiatedVersion())
	return p, nil
}

// startAll starts the plugin's processes side by side; if one fails, the
// others are killed and the plugin is not loaded.
func (p *Plugin) startAll(ctx context.Context) error {
	n := p.cfg.Processes
	conns, hooks, errs := make([]*conn, n), make([]int, n), make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { conns[i], hooks[i], errs[i] = p.start(ctx) })
	}
	wg.Wait()
	err := cmp.Or(errs...) // the same start failing n times says no more
	if err == nil && slices.ContainsFunc(hooks, func(h int) bool { return h != hooks[0] }) {
		err = fmt.Errorf("the plugin's processes serve different hooks: %v", hooks)
	}
	if err != nil {
		for _, c := range conns {
			if c != nil {
				c.client.Kill()
			}
		}
		return err
	}
	p.hooks, p.up = hooks[0], n
	for i, c := range conns {
		s := &slot{n: i + 1, cur: c, backoff: time.Duration(p.cfg.RestartBackoff)}
		p.slots = append(p.slots, s)
		p.free <- s
	}
	return nil
}

// start starts the executable, completes the handshake and calls Init.
func (p *Plugin) start(ctx context.Context) (*conn, int, error) {
	cmd := exec.Command(p.cfg.Path, p.cfg.Args...)
	for _, k := range p.cfg.Env {
		if v, ok := os.LookupEnv(k); ok {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: pluginSets(nil),
		Cmd:              cmd,
		SkipHostEnv:      true,
		SecureConfig:     &plugin.SecureConfig{Checksum: p.sum, Hash: sha256.New()},
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		StartTimeout:     time.Duration(p.cfg.StartTimeout),
		Logger:           hclogger(p.log),
		GRPCDialOptions: []grpc.DialOption{grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(maxMessage), grpc.MaxCallSendMsgSize(maxMessage)),
			grpc.WithStaticStreamWindowSize(window), grpc.WithStaticConnWindowSize(window)},
	})
	fail := func(err error) (*conn, int, error) {
		client.Kill()
		return nil, 0, err
	}
	proto, err := client.Client()
	if err != nil {
		return fail(startError(p.cfg.Path, err))
	}
	raw, err := proto.Dispense(pluginName)
	if err != nil {
		return fail(fmt.Errorf("starting %s: %w", p.cfg.Path, err))
	}
	rpc := raw.(*rpcClient)
	ictx, cancel := context.WithTimeout(ctx, time.Duration(p.cfg.StartTimeout))
	defer cancel()
	d, err := rpc.init(ictx, p.config)
	if err != nil {
		return fail(fmt.Errorf("the plugin refused its config: %s", status.Convert(err).Message()))
	}
	if d.ABI != abi.Version {
		return fail(fmt.Errorf("the plugin speaks tollgate plugin ABI v%d, and this tollgate serves ABI v%d only", d.ABI, abi.Version))
	}
	if d.Hooks == 0 {
		return fail(fmt.Errorf("the plugin serves no hook: register one with the SDK (sdk.OnRequest, sdk.OnUsage, ...) before sdk.Serve"))
	}
	if extra := d.Hooks &^ abi.AllHooks; extra != 0 {
		return fail(fmt.Errorf("the plugin reports hooks %d, with bits %#x that ABI v1 does not define (1 request, 2 response, 4 stream_event, 8 usage)", d.Hooks, extra))
	}
	return &conn{client: client, rpc: rpc, started: time.Now()}, d.Hooks, nil
}

// startError words go-plugin's start failures for a user.
func startError(path string, err error) error {
	msg := err.Error()
	switch {
	case errors.Is(err, plugin.ErrChecksumsDoNotMatch):
		return fmt.Errorf("%s changed since it was loaded: its sha256 no longer matches the pinned one", path)
	case strings.Contains(msg, "Incompatible API version"):
		return fmt.Errorf("%s speaks another go-plugin protocol version than this tollgate (v%d): rebuild it with this tollgate's plugins/sdk (%s)", path, ProtocolVersion, msg)
	case strings.Contains(msg, "Unrecognized remote plugin message"), strings.Contains(msg, "plugin exited before we could connect"):
		return fmt.Errorf("%s is not a tollgate process plugin, or it failed at start (a plugin calls sdk.Serve from main): %s", path, firstLine(msg))
	}
	return fmt.Errorf("starting %s: %w", path, err)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// Hooks names the hooks the plugin serves.
func (p *Plugin) Hooks() []string { return abi.HookList(p.hooks) }

// Call runs one hook in the plugin process, then hands its deliveries to
// the deliverer after checking them against the allow-lists.
func (p *Plugin) Call(ctx context.Context, hook int, in *abi.Input) (abi.Action, error) {
	doc, err := in.Encode(nil, hook)
	if err != nil {
		return abi.Action{}, err
	}
	if len(doc) > maxMessage {
		return abi.Action{}, &core.Error{Kind: core.KindInternal, Code: "plugin_document_too_large", Stage: p.name,
			Message: fmt.Sprintf("the %s document for process plugin %s is %d bytes, over the %d bytes a process plugin takes", abi.HookList(hook)[0], p.name, len(doc), maxMessage)}
	}
	s, c, err := p.acquire(ctx)
	if err != nil {
		return abi.Action{}, err
	}
	cctx, cancel := context.WithTimeout(ctx, p.timeout)
	out, err := c.rpc.call(cctx, doc)
	cancel()
	if err != nil {
		err = p.callError(ctx, s, c, err)
	}
	p.release(s, c)
	if err != nil {
		return abi.Action{}, err
	}
	a, err := abi.ParseAction(out)
	if err != nil {
		return a, &core.Error{Kind: core.KindInternal, Code: "plugin_abi_violation", Stage: p.name, Message: fmt.Sprintf("plugin %s: %v", p.name, err)}
	}
	for _, d := range a.Deliveries {
		var code int32
		if d.Sink != "" {
			code, err = abi.Emit(ctx, p.deliver, p.grants, d.Sink, d.Payload)
		} else {
			code, err = abi.Deliver(ctx, p.deliver, p.grants, d.Dest, d.Payload)
		}
		if err != nil {
			return abi.Action{}, &core.Error{Kind: core.KindInternal, Code: "plugin_delivery_" + abi.ErrorName(code), Stage: p.name, Err: err,
				Message: fmt.Sprintf("plugin %s: %v", p.name, err)}
		}
	}
	a.Deliveries = nil
	return a, nil
}

// callError classifies a failed call: a crash or a timeout (the process
// is killed and restarted), or an error the plugin returned.
func (p *Plugin) callError(ctx context.Context, s *slot, c *conn, err error) error {
	st := status.Convert(err)
	p.mu.Lock()
	down := c.down
	p.mu.Unlock()
	switch {
	case down != "":
		// Another call took the process down while this one waited on it.
		return &core.Error{Kind: core.KindInternal, Code: "plugin_down", Stage: p.name, Err: err,
			Message: fmt.Sprintf("process plugin %s was taken down during the call (%s)", p.name, down)}
	case c.client.Exited() || st.Code() == codes.Unavailable:
		in := p.takeDown(s, c, "its process exited: "+st.Message(), "process plugin crashed; its stage follows on_error until it is restarted", err)
		return &core.Error{Kind: core.KindInternal, Code: "plugin_crashed", Stage: p.name, Err: err,
			Message: fmt.Sprintf("process plugin %s crashed during the call (%s); %s", p.name, st.Message(), in)}
	case st.Code() == codes.DeadlineExceeded && ctx.Err() == nil:
		// A process runs one hook at a time: a call that hangs would hold
		// it for good. A process that misses its deadline is unhealthy,
		// and replaced as a crashed one.
		why := fmt.Sprintf("it did not answer a call within its call_timeout of %s", p.timeout)
		in := p.takeDown(s, c, why, "process plugin did not answer within its call_timeout: killed it; its stage follows on_error until it is restarted", err)
		return &core.Error{Kind: core.KindTimeout, Code: "plugin_timeout", Stage: p.name, Err: err,
			Message: fmt.Sprintf("process plugin %s did not answer within its call_timeout of %s; it was killed, %s", p.name, p.timeout, in)}
	case st.Code() == codes.ResourceExhausted:
		return &core.Error{Kind: core.KindInternal, Code: "plugin_failed", Stage: p.name, Err: err,
			Message: fmt.Sprintf("process plugin %s: a message was over a size limit (this tollgate's is %d bytes; a plugin built with an older plugins/sdk takes 4 MiB): %s", p.name, maxMessage, st.Message())}
	}
	return &core.Error{Kind: core.KindInternal, Code: "plugin_failed", Stage: p.name, Err: err,
		Message: fmt.Sprintf("process plugin %s: %s", p.name, st.Message())}
}

// Close stops the plugin's processes.
func (p *Plugin) Close(context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	var conns []*conn
	for _, s := range p.slots {
		if c := s.cur; c != nil {
			c.down = "the plugin was closed"
			conns = append(conns, c)
		}
		s.cur = nil
	}
	if p.up > 0 {
		close(p.noneUp) // calls waiting for a free process fail now
	}
	p.up = 0
	close(p.stop)
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(c.client.Kill) // each may wait up to 2 s for its process to exit
	}
	wg.Wait()
	return nil
}
