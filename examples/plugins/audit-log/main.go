// Command audit-log is an example process plugin: a native binary that
// tollgate starts and talks to over gRPC. It does what a sandboxed
// WebAssembly plugin may not: it appends one JSON line per call to a local
// audit file (who, which model, a hash of the prompt), and can refuse calls
// that name no customer.
//
// Build: go build -o audit-log .
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"time"

	"github.com/tollgate-dev/tollgate/plugins/sdk"
)

type config struct {
	Path            string `json:"path"`
	RequireCustomer bool   `json:"require_customer"`
}

type record struct {
	Time     string `json:"time"`
	ID       string `json:"id"`
	Customer string `json:"customer"`
	Model    string `json:"model"`
	Prompt   string `json:"prompt_sha256"`
}

func main() {
	var cfg config
	var f *os.File
	sdk.OnRequest(func(r *sdk.Request) sdk.Action {
		if f == nil {
			if err := sdk.DecodeConfig(&cfg); err != nil || cfg.Path == "" {
				return sdk.Fail("config: path is required (%v)", err)
			}
			var err error
			if f, err = os.OpenFile(cfg.Path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640); err != nil {
				return sdk.Fail("opening the audit file: %v", err)
			}
		}
		if cfg.RequireCustomer && r.Customer == "" {
			return sdk.Deny(403, "customer_required", "this gateway audits every call: name the customer (X-Tollgate-Customer)")
		}
		h := sha256.Sum256(r.Body())
		line, _ := json.Marshal(record{Time: time.Now().UTC().Format(time.RFC3339Nano), ID: r.ID,
			Customer: r.Customer, Model: r.Model, Prompt: hex.EncodeToString(h[:])})
		if _, err := f.Write(append(line, '\n')); err != nil {
			return sdk.Fail("writing the audit file: %v", err)
		}
		return sdk.Continue()
	})
	sdk.Serve()
}
