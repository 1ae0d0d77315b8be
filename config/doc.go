// Package config loads and checks the gateway's configuration. It is the
// only package that knows about koanf; everything else takes a *Config.
//
// # Sources and precedence
//
// Load merges these sources, each overriding the ones before it:
//
//  1. the built-in default (config/default.yaml, embedded; see Default);
//  2. the YAML config file named by Options.Path, if any;
//  3. TOLLGATE_ environment variables, from the process environment or, for
//     local development, from a .env file beside the config file;
//  4. command-line flags given in Options.Flags.
//
// The file holds one YAML document; settings in a second one (after a
// "---") are a problem, while documents of comments only are skipped.
//
// Maps merge key by key, so a file that sets only listen keeps every other
// default. Two keys are replaced whole instead: a file that sets providers
// or pipeline defines exactly the providers or stages it lists. Lists
// (pipeline, and lists inside a stage's config) can be set only in a file.
//
// The .env file is read from the config file's directory (none is read when
// there is no config file). It holds NAME=value lines and acts as a fallback
// environment: its variables serve TOLLGATE_ overrides and secret lookups
// (Config.Lookup, Config.APIKey), and a variable set in the real environment,
// even to the empty string, wins over the same name in .env. A .env file
// that does not parse is a problem at the line where the trouble starts,
// showing that line's name part only: what follows may be a secret.
//
// # Keys
//
//	listen               host:port of the gateway listener. Default 127.0.0.1:8080.
//	admin_listen         host:port of the admin listener (/healthz, /readyz, and
//	                     later /metrics and the admin API); empty turns it off.
//	                     Default 127.0.0.1:8081. Must differ from listen.
//	data_dir             directory for all embedded state. Default ./data.
//	                     A relative path is relative to the working directory.
//	log.level            debug, info, warn or error. Default info.
//	log.format           auto, text or json. Default auto: coloured text when
//	                     stderr is a terminal, JSON otherwise.
//	server.max_body_bytes       hard cap on a request body, in bytes, > 0.
//	                            Default 33554432 (32 MiB).
//	server.max_header_bytes     cap on request headers, in bytes, > 0.
//	                            Default 1048576 (1 MiB).
//	server.read_header_timeout  duration, >= 0 (0: no limit). Default 10s.
//	server.read_body_timeout    time to read a request body once its headers
//	                            are read; duration, >= 0 (0: no limit).
//	                            Default 60s. It never cuts an answer.
//	server.idle_timeout         duration, >= 0 (0: no limit). Default 120s.
//	server.shutdown_timeout     duration, >= 0 (0: wait forever). Default 30s.
//	server.max_concurrent_requests  calls served at once; one more gets 503
//	                            with Retry-After. 0: no bound. Default 1024.
//	server.engine               the HTTP/1.1 server: inline (tollgate's own,
//	                            no goroutine per request) or standard
//	                            (net/http's). Default inline.
//	server.gc_headroom_bytes    the collector's heap goal is kept at least
//	                            this far above the live heap (fewer
//	                            collections while it is small); >= 0, 0 and
//	                            a GOGC in the environment leave Go's
//	                            default. Default 6291456 (6 MiB).
//	server.sysmon_awake         Go's system monitor polls while every
//	                            processor is idle instead of sleeping until
//	                            the next call wakes it; tollgate serve
//	                            restarts itself in place to set it. Default
//	                            true.
//	server.procs_follow_load    one Go processor while calls come one at a
//	                            time, all of them (GOMAXPROCS as Go sets it)
//	                            as soon as two overlap; a GOMAXPROCS in the
//	                            environment turns it off, and so do fsyncs
//	                            that are system calls (no io_uring).
//	                            Default true.
//	customer.header                  request header naming the customer.
//	                                 Required. Default X-Tollgate-Customer.
//	customer.metadata_header_prefix  headers with this prefix carry metadata:
//	                                 X-Tollgate-Meta-Team: ml gives {team: ml}.
//	                                 Empty turns it off. Default X-Tollgate-Meta-.
//	customer.missing                 a request without the customer header is
//	                                 tracked as unattributed (track) or refused
//	                                 (reject). Default track.
//	providers.<name>               an upstream; <name> is lowercase letters,
//	                               digits, "-" and "_".
//	providers.<name>.type          openai, anthropic, gemini or azure: the wire
//	                               format (azure is OpenAI's at Azure OpenAI's
//	                               paths). Defaults to <name>, so
//	                               "openai: {...}" needs no type.
//	providers.<name>.base_url      absolute http(s) URL of the upstream API,
//	                               without credentials. Required.
//	providers.<name>.api_key_env   name of the environment variable that holds
//	                               the API key; empty for an upstream that
//	                               needs none. The key itself is never in the
//	                               config.
//	providers.<name>.models        model-name patterns ("llama-*") whose calls
//	                               go to this upstream; see docs/providers.md
//	                               for routing by model, prefix or header.
//	providers.<name>.api_version   azure only: the api-version; empty for
//	                               Azure's v1 API.
//	providers.<name>.deployments   azure only: model name -> deployment name.
//	redis.addr               host:port of the Redis server that replicas share
//	                         (rate limits, cache, spend counters); empty, the
//	                         default, turns Redis off. See docs/resilience.md.
//	redis.username           ACL user; empty for the default user.
//	redis.password_env       name of the environment variable holding the
//	                         password; empty for none.
//	redis.db                 database number, >= 0. Default 0.
//	redis.tls                connect with TLS. Default false.
//	redis.key_prefix         starts every key tollgate writes. Default "tollgate:".
//	redis.dial_timeout       duration, > 0. Default 1s.
//	redis.timeout            deadline of every command, > 0. Default 250ms.
//	redis.pool_size          most connections, >= 0; 0 for 10 per CPU.
//	redis.down_for           after a failed command, calls skip Redis for this
//	                         long, >= 0. Default 1s.
//	pipeline                 ordered list of stages; the first is outermost.
//	pipeline[i].name         the stage's name. Required, unique.
//	pipeline[i].kind         how it is implemented: builtin, rego, wasm,
//	                         process. Required; the pipeline package checks
//	                         that the kind exists.
//	pipeline[i].config       the stage's own settings: any map, passed to the
//	                         stage untouched and checked by it.
//	pipeline[i].on_error     fail_open or fail_closed; empty for the stage's
//	                         default.
//	pipeline[i].timeout      duration, >= 0; 0 for the stage's default.
//	admin.token_env          variable holding the admin API's bearer token;
//	                         /admin/... is refused while it is unset.
//	                         Default TOLLGATE_ADMIN_TOKEN.
//	auth.virtual_keys        true: every call presents a tollgate key
//	                         (tollgate keys create); unknown or revoked: 401.
//	                         Default false.
//	auth.keys_file           JSON of hashed keys (tollgate keys export) for
//	                         replicas to share. Default none.
//	auth.refresh_interval    how often the key store is re-read. Default 2s.
//	metrics.enabled          serve /metrics on the admin listener. Default true.
//	metrics.customer_label   per-customer token and cost series. Default false.
//	reload.watch             reload when the config file changes. Default true.
//	reload.debounce          wait after a change before reloading. Default 250ms.
//	alerts.webhook_url_env   variable holding the alert webhook URL; empty:
//	                         no alerts. Default empty.
//	alerts.check_interval    how often alert conditions are checked. Default 15s.
//	alerts.min_interval      least time between two alerts of a kind. Default 5m.
//	alerts.outbox_backlog    usage events waiting for a sink that raise an
//	                         alert. Default 10000.
//
// The built-in default defines providers openai (https://api.openai.com/v1,
// OPENAI_API_KEY), anthropic (https://api.anthropic.com, ANTHROPIC_API_KEY)
// and gemini (https://generativelanguage.googleapis.com, GEMINI_API_KEY), and
// the pipeline validate, call, track, all builtin, with track writing JSON
// lines to data/usage.jsonl. Print Default for the whole file.
//
// Durations are Go duration strings: "30s", "1m30s", "250ms". Sizes are
// whole numbers of bytes.
//
// # Environment variables
//
// A variable named TOLLGATE_ followed by a key path sets that key. "__"
// (two underscores) separates the levels of the path; a single "_" stays
// part of the key, and the whole name is lowercased:
//
//	TOLLGATE_LISTEN                         listen
//	TOLLGATE_ADMIN_LISTEN                   admin_listen
//	TOLLGATE_DATA_DIR                       data_dir
//	TOLLGATE_LOG__LEVEL                     log.level
//	TOLLGATE_LOG__FORMAT                    log.format
//	TOLLGATE_SERVER__MAX_BODY_BYTES         server.max_body_bytes
//	TOLLGATE_SERVER__IDLE_TIMEOUT           server.idle_timeout
//	TOLLGATE_CUSTOMER__MISSING              customer.missing
//	TOLLGATE_PROVIDERS__OPENAI__BASE_URL    providers.openai.base_url
//	TOLLGATE_PROVIDERS__LOCAL__TYPE         providers.local.type (adds a provider)
//
// A variable with an empty value is ignored, as if unset. TOLLGATE_CONFIG is
// reserved for the binary (the config file's path) and is not a key. An
// unknown key is an error, as in a file. The pipeline, being a list, cannot
// be set from the environment.
//
// # Flags
//
// RegisterFlags defines --listen, --admin-listen, --data-dir, --log-level
// and --log-format, which set listen, admin_listen, data_dir, log.level and
// log.format, and a hidden flag named by its dotted path for every other key
// of a section: --server.idle-timeout sets server.idle_timeout ("-" read as
// "_"). Each takes its value as text, checked as a variable's is, so a
// boolean needs its word (--metrics.enabled false). Providers and the
// pipeline have no flags. Only flags given on the command line count; their
// defaults do not override anything.
//
// # Secrets
//
// The configuration names secrets, it never holds them: api_key_env is the
// name of a variable, read when needed with Config.APIKey or Config.Lookup.
// Printing a Config shows no secret, and no error from this package contains
// the value of a variable named by api_key_env or whose name contains KEY,
// TOKEN, SECRET, PASSWORD, PASSWD, CREDENTIAL or AUTH; such values (of 8
// characters or more) are replaced by [REDACTED]. A value that holds
// something shaped like a key (a run of 20 or more letters, digits, "-" and
// "_", mixing letters and digits) is described by its length, not quoted.
//
// # Errors
//
// Checking is strict and complete: Load reports, in one *Error, every
// unknown key (with a suggestion when one is close), every value of the
// wrong type, every bad enum value, duration, address or URL, and every
// missing required value. Each Problem has a path and, where known, the
// source of the value: a file and line, an environment variable or a flag.
// Error() reads:
//
//	config: 3 problems:
//	  tollgate.yaml:2: lisen: unknown key (did you mean "listen"?)
//	  tollgate.yaml:14: pipeline[1].kind: required
//	  $TOLLGATE_LOG__LEVEL: log.level: want one of debug, info, warn, error; got "verbose"
//
// Only pipeline[i].config is not checked here: it belongs to the stage.
package config
