package h1server

import (
	"context"
	"net"
	"net/http"
)

// Engine is what a caller of a server needs: net/http's *http.Server and
// *Server both are one, so a command can pick either by configuration.
type Engine interface {
	Serve(ln net.Listener) error
	Shutdown(ctx context.Context) error
	Close() error
}

// FromStandard returns a Server with std's Handler, ReadHeaderTimeout,
// IdleTimeout, MaxHeaderBytes, ErrorLog and DisableGeneralOptionsHandler.
// Its other fields (TLS, ReadTimeout, WriteTimeout, hooks) have no
// counterpart here and must be unset; std itself is not used afterwards.
func FromStandard(std *http.Server) *Server {
	return &Server{
		Handler:           std.Handler,
		ReadHeaderTimeout: std.ReadHeaderTimeout,
		IdleTimeout:       std.IdleTimeout,
		MaxHeaderBytes:    std.MaxHeaderBytes,
		ErrorLog:          std.ErrorLog,

		DisableGeneralOptionsHandler: std.DisableGeneralOptionsHandler,
		BaseContext:                  std.BaseContext,
	}
}

var (
	_ Engine = (*Server)(nil)
	_ Engine = (*http.Server)(nil)
)
