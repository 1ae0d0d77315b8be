package config

import (
	"fmt"
	"maps"
	"net"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Validate checks c the way Load does after decoding: required values,
// enums, addresses, URLs, names and limits. It returns nil or an *Error
// listing every problem. Use it on a Config built in Go rather than loaded;
// a Config from Load is already valid.
func (c *Config) Validate() error {
	ps := c.problems()
	if len(ps) == 0 {
		return nil
	}
	for i := range ps {
		ps[i].rank = rankNone
	}
	sortProblems(ps)
	return &Error{Problems: ps}
}

// Allowed values, in the order messages list them.
var (
	logLevels     = []string{"debug", "info", "warn", "error"}
	logFormats    = []string{"auto", "text", "json"}
	missingModes  = []string{MissingTrack, MissingReject}
	serverEngines = []string{EngineInline, EngineStandard}
	providerTypes = []string{TypeOpenAI, TypeAnthropic, TypeGemini, TypeAzure}
	onErrorModes  = []string{OnErrorFailOpen, OnErrorFailClosed}
)

var (
	// providerName is what a provider may be called: it appears in env
	// variable names (lowercased) and in routes.
	providerName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
	// envVarName is what api_key_env may hold.
	envVarName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
)

// problems returns every problem with c's values, without sources.
func (c *Config) problems() []Problem {
	var v validator
	v.hostPort("listen", c.Listen, true)
	v.hostPort("admin_listen", c.AdminListen, false)
	if c.Listen != "" && c.Listen == c.AdminListen && !PortPicked(c.Listen) {
		v.add("admin_listen", fmt.Sprintf("must differ from listen (both are %s)", quote(c.Listen)))
	}
	v.required("data_dir", c.DataDir)

	v.oneOf("log.level", c.Log.Level, logLevels, false)
	v.oneOf("log.format", c.Log.Format, logFormats, false)

	v.positive("server.max_body_bytes", c.Server.MaxBodyBytes)
	v.positive("server.max_header_bytes", int64(c.Server.MaxHeaderBytes))
	v.notNegative("server.read_header_timeout", c.Server.ReadHeaderTimeout)
	v.notNegative("server.read_body_timeout", c.Server.ReadBodyTimeout)
	v.notNegative("server.idle_timeout", c.Server.IdleTimeout)
	v.notNegative("server.shutdown_timeout", c.Server.ShutdownTimeout)
	v.oneOf("server.engine", c.Server.Engine, serverEngines, false)
	if c.Server.GCHeadroomBytes < 0 {
		v.add("server.gc_headroom_bytes", fmt.Sprintf("want a number of bytes >= 0 (0: Go's default GOGC), got %d", c.Server.GCHeadroomBytes))
	}

	if v.required("customer.header", c.Customer.Header) {
		v.headerName("customer.header", c.Customer.Header)
	}
	v.headerName("customer.metadata_header_prefix", c.Customer.MetadataHeaderPrefix)
	v.oneOf("customer.missing", c.Customer.Missing, missingModes, false)

	for _, name := range slices.Sorted(maps.Keys(c.Providers)) {
		v.provider("providers."+name, name, c.Providers[name])
	}

	v.redis(c.Redis)

	c.opsProblems(&v)

	first := make(map[string]string, len(c.Pipeline))
	for i, s := range c.Pipeline {
		path := joinIndex("pipeline", i)
		if v.required(path+".name", s.Name) {
			if prev, dup := first[s.Name]; dup {
				v.add(path+".name", fmt.Sprintf("duplicate stage name %s (first used at %s)", quote(s.Name), prev))
			} else {
				first[s.Name] = path
			}
		}
		v.required(path+".kind", s.Kind)
		v.oneOf(path+".on_error", s.OnError, onErrorModes, true)
		v.notNegative(path+".timeout", s.Timeout)
	}
	return v.problems
}

// validator collects problems.
type validator struct {
	problems []Problem
}

func (v *validator) add(path, msg string) {
	v.problems = append(v.problems, Problem{Path: path, Message: msg})
}

// required reports an empty value and returns whether the value is set.
func (v *validator) required(path, s string) bool {
	if strings.TrimSpace(s) == "" {
		v.add(path, "required")
		return false
	}
	return true
}

// oneOf reports a value outside allowed; empty is allowed when optional.
func (v *validator) oneOf(path, s string, allowed []string, optional bool) {
	if slices.Contains(allowed, s) || optional && s == "" {
		return
	}
	if s == "" {
		v.add(path, "required: want one of "+strings.Join(allowed, ", "))
		return
	}
	v.add(path, fmt.Sprintf("want one of %s; got %s", strings.Join(allowed, ", "), quote(s)))
}

// hostPort reports an address that is not host:port with a numeric port.
func (v *validator) hostPort(path, s string, isRequired bool) {
	if s == "" {
		if isRequired {
			v.add(path, "required: want host:port, like 127.0.0.1:8080")
		}
		return
	}
	_, port, err := net.SplitHostPort(s)
	if err == nil {
		_, err = strconv.ParseUint(port, 10, 16)
	}
	if err != nil {
		v.add(path, "want host:port, got "+quote(s))
	}
}

func (v *validator) positive(path string, n int64) {
	if n <= 0 {
		v.add(path, fmt.Sprintf("want a positive number of bytes, got %d", n))
	}
}

func (v *validator) notNegative(path string, d time.Duration) {
	if d < 0 {
		v.add(path, "must not be negative, got "+d.String())
	}
}

// headerName reports a value that cannot be (the start of) an HTTP header
// name; empty is fine.
func (v *validator) headerName(path, s string) {
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			v.add(path, "want an HTTP header name, got "+quote(s))
			return
		}
	}
}

// provider checks one entry of the providers map.
func (v *validator) provider(path, name string, p Provider) {
	if !providerName.MatchString(name) {
		v.add(path, `want a provider name of lowercase letters, digits, "-" and "_"`)
	}
	switch {
	case p.Type == "" && !slices.Contains(providerTypes, name):
		v.add(path+".type", fmt.Sprintf("required: want one of %s (the provider name %s is not a type)",
			strings.Join(providerTypes, ", "), quote(name)))
	case p.Type != "":
		v.oneOf(path+".type", p.Type, providerTypes, false)
	}
	if v.required(path+".base_url", p.BaseURL) {
		v.baseURL(path+".base_url", p.BaseURL)
	}
	for i, m := range p.Models {
		if !validPattern(m) {
			v.add(fmt.Sprintf("%s.models[%d]", path, i), fmt.Sprintf(`want a model name or pattern such as "llama-*", got %s`, quote(m)))
		}
	}
	typ := p.Type
	if typ == "" {
		typ = name
	}
	if typ != TypeAzure && (p.APIVersion != "" || len(p.Deployments) > 0) {
		v.add(path, "api_version and deployments are for type azure only")
	}
	if p.APIKeyEnv != "" && !envVarName.MatchString(p.APIKeyEnv) {
		// Never echo the value: it is often the key itself, pasted here.
		v.add(path+".api_key_env", "want the name of an environment variable, like OPENAI_API_KEY; "+
			"the key itself belongs in the environment or the .env file")
	}
}

// baseURL reports a value that is not an absolute http(s) URL with a host.
func (v *validator) baseURL(path, s string) {
	u, err := url.Parse(s)
	if err == nil && u.User != nil {
		v.add(path, "must not hold credentials; name the key's environment variable in api_key_env")
		return
	}
	if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		msg := "want an absolute http(s) URL"
		if !strings.Contains(s, "@") {
			msg += ", got " + quote(s)
		}
		v.add(path, msg)
	}
}

// isTokenChar reports whether c may appear in an HTTP token (RFC 9110).
func isTokenChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// validPattern reports whether m is a usable path.Match pattern.
func validPattern(m string) bool {
	_, err := path.Match(m, "")
	return m != "" && err == nil
}

// PortPicked reports whether a listener at hostPort takes a port the kernel
// picks (port 0): two of them do not clash, and only the serving line says
// which port each got.
func PortPicked(hostPort string) bool { return strings.HasSuffix(hostPort, ":0") }
