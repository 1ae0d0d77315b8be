package main

import (
	"encoding/json"
	"net/http"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/plugins/rego"
	"github.com/tollgate-dev/tollgate/tracking"
)

// adminHandler serves the admin endpoints: /healthz says the process is
// alive; /readyz says whether it can serve calls, with a JSON body naming
// each check; /admin/usage… serve the usage ledger and outbox when usage is
// not nil; /admin/policies lists the rego stages: revision loaded, reloads,
// decision counts and the last reload error.
//
// With op (production setup), /readyz runs op's checks, /metrics, the
// keys API and /admin/config (the config in force) are added, and
// /admin/… needs the admin token.
func adminHandler(eng *core.Engine, usage *tracking.DB, op *ops) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if op != nil {
			ready, checks := op.ready(r.Context())
			if !ready {
				writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not ready", "checks": checks})
				return
			}
			writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "checks": checks})
			return
		}
		checks := map[string]string{"config": "ok", "pipeline": "ok"}
		status, code := "ready", http.StatusOK
		if usage != nil {
			h := usage.Health()
			checks["usage_outbox"] = h.Detail
			if !h.Ready {
				status, code = "not ready", http.StatusServiceUnavailable
			}
		}
		writeJSON(w, code, map[string]any{"status": status, "checks": checks})
	})
	if usage != nil {
		usageRoutes(mux, usage, nil) // the gateway has registered its config's sinks in usage
	}
	mux.HandleFunc("GET /admin/policies", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"policies": rego.Statuses()})
	})
	if op != nil {
		mux.HandleFunc("GET /admin/config", op.serveConfig)
		return op.admin(mux)
	}
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
