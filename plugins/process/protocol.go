package process

import (
	"context"
	"encoding/json"
	"os"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/tollgate-dev/tollgate/plugins/internal/abi"
)

// ProtocolVersion is the go-plugin protocol version this host and the SDK
// speak; the two negotiate it at the handshake.
const ProtocolVersion = 1

// Handshake is the go-plugin handshake: the cookie tells a plugin binary it
// was started by tollgate.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "TOLLGATE_PLUGIN",
	MagicCookieValue: "7f3c9e0a-tollgate-process-plugin",
}

// maxMessage caps a gRPC message either way, on the host's client and on
// the plugin's server (gRPC's default receive limit is 4 MiB). A response
// hook's document holds the request body and the answer's: 128 MiB covers
// server.max_body_bytes (32 MiB) and call's max_response_bytes (64 MiB) at
// their defaults, with room for headers and the answer's deliveries. A
// variable so that a test can lower the host's end.
var maxMessage = 128 << 20

// window is gRPC's flow-control window either way, per call and per
// connection. A fixed window turns off gRPC's bandwidth estimation, which
// sent a ping and read its answer with nearly every call: a write, a read
// and a thread wake-up more on each side, to size windows for long network
// links where here the link is a local socket. 16 MiB is the most the
// estimation would grow a window to, so large documents cross in as few
// window updates as before.
const window = 16 << 20

const (
	pluginName  = "tollgate"
	serviceName = "tollgate.plugin.v1.Plugin"
	methodInit  = "/" + serviceName + "/Init"
	methodCall  = "/" + serviceName + "/Call"
)

// Handler is what a process plugin serves; plugins/sdk implements it.
//
// Init gets the plugin's config as JSON and returns the hook bit mask it
// serves. Call gets one hook document and returns the answer document (nil
// for continue). Call may be called concurrently.
type Handler interface {
	Init(config []byte) (hooks int, err error)
	Call(doc []byte) ([]byte, error)
}

// description is the answer to Init.
type description struct {
	ABI   int `json:"abi"`
	Hooks int `json:"hooks"`
}

// serviceDesc is the gRPC service, written by hand rather than generated:
// both methods take and return google.protobuf.BytesValue holding JSON
// (docs/plugin-abi.md, "Process plugins").
var serviceDesc = grpc.ServiceDesc{
	ServiceName: serviceName,
	HandlerType: (*Handler)(nil),
	Methods: []grpc.MethodDesc{
		{MethodName: "Init", Handler: unary(methodInit, func(h Handler, in []byte) ([]byte, error) {
			hooks, err := h.Init(in)
			if err != nil {
				return nil, status.Error(codes.FailedPrecondition, err.Error())
			}
			return json.Marshal(description{ABI: abi.Version, Hooks: hooks})
		})},
		{MethodName: "Call", Handler: unary(methodCall, func(h Handler, in []byte) ([]byte, error) {
			return h.Call(in)
		})},
	},
	Metadata: "tollgate/plugin/v1/plugin.proto",
}

func unary(method string, f func(Handler, []byte) ([]byte, error)) grpc.MethodHandler {
	return func(srv any, ctx context.Context, dec func(any) error, icpt grpc.UnaryServerInterceptor) (any, error) {
		in := new(wrapperspb.BytesValue)
		if err := dec(in); err != nil {
			return nil, err
		}
		handle := func(_ context.Context, req any) (any, error) {
			out, err := f(srv.(Handler), req.(*wrapperspb.BytesValue).Value)
			if err != nil {
				return nil, err
			}
			return wrapperspb.Bytes(out), nil
		}
		if icpt == nil {
			return handle(ctx, in)
		}
		return icpt(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: method}, handle)
	}
}

// grpcPlugin is the go-plugin glue on both sides.
type grpcPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	impl Handler
}

func (g *grpcPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	s.RegisterService(&serviceDesc, g.impl)
	return nil
}

func (g *grpcPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &rpcClient{conn: c}, nil
}

// rpcClient is the host's end of the service.
type rpcClient struct{ conn *grpc.ClientConn }

func (c *rpcClient) init(ctx context.Context, config []byte) (description, error) {
	out := new(wrapperspb.BytesValue)
	if err := c.conn.Invoke(ctx, methodInit, wrapperspb.Bytes(config), out); err != nil {
		return description{}, err
	}
	var d description
	err := json.Unmarshal(out.Value, &d)
	return d, err
}

func (c *rpcClient) call(ctx context.Context, doc []byte) ([]byte, error) {
	out := new(wrapperspb.BytesValue)
	if err := c.conn.Invoke(ctx, methodCall, wrapperspb.Bytes(doc), out); err != nil {
		return nil, err
	}
	return out.Value, nil
}

func pluginSets(impl Handler) map[int]plugin.PluginSet {
	return map[int]plugin.PluginSet{ProtocolVersion: {pluginName: &grpcPlugin{impl: impl}}}
}

// Serve runs a process plugin: it answers the go-plugin handshake on
// stdout and serves h over gRPC until tollgate stops it. Log lines written
// with the SDK go to stderr as JSON, which go-plugin relays to tollgate's
// log. Run outside tollgate, the binary says that it is a plugin and exits.
func Serve(h Handler) {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: pluginSets(h),
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			return grpc.NewServer(append(opts, grpc.MaxRecvMsgSize(maxMessage), grpc.MaxSendMsgSize(maxMessage),
				grpc.StaticStreamWindowSize(window), grpc.StaticConnWindowSize(window))...)
		},
		Logger: hclog.New(&hclog.LoggerOptions{Output: os.Stderr, JSONFormat: true, Level: hclog.Info}),
	})
}
