package cache

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"hash/maphash"
	"slices"
	"strings"
	"unsafe"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/jsonscan"
)

// IgnoredFields are the top-level body fields that never change the answer,
// left out of the cache key:
//
//   - user, safety_identifier: who the end user is, for the provider's abuse
//     tracking;
//   - metadata: tags stored with the call (OpenAI) or the end user's id
//     (Anthropic);
//   - store: whether OpenAI keeps the completion;
//   - stream_options: whether a stream carries its usage (the gateway asks
//     for it anyway);
//   - prompt_cache_key, service_tier: routing and priority hints.
//
// stream itself is part of the key, not of the body's: a streamed and a
// whole answer are cached apart, as one cannot be replayed as the other.
var IgnoredFields = []string{"user", "safety_identifier", "metadata", "store", "stream", "stream_options",
	"prompt_cache_key", "service_tier"}

// keyHeaders are the request headers that select another behaviour of the
// model, and so are part of the key.
var keyHeaders = []string{"Anthropic-Version", "Anthropic-Beta", "Openai-Beta"}

// field is one top-level body field.
type field struct{ name, raw string }

// memKey is the key of an entry in memory: 128 bits from two maphash
// hashes with seeds drawn at random when the stage is built. It is cheap
// (the runtime's AES-based hash), and a customer who does not know the
// seeds cannot craft a request that collides with another's.
type memKey [16]byte

// key derives the in-memory key of a call, and, when sha is not nil, fills
// in the SHA-256 key the Redis backend stores it under (stable across
// replicas, and collision-resistant without a secret). Both cover: the
// scope (the customer, unless the cache is global), the provider,
// operation, upstream, method, path and query, the model, whether it
// streams, the headers that change the answer, and the body's top-level
// fields in name order minus the ignored ones. Field values count byte for
// byte; only their order and the ignored fields do not. ok is false for a
// body that is not a JSON object.
func (c *Cache) key(req *core.Request, sha *[sha256.Size]byte) (k memKey, ok bool) {
	var buf [24]field
	fields := buf[:0]
	if !jsonscan.Fields(unsafe.String(unsafe.SliceData(req.Body), len(req.Body)), func(name, raw string) {
		if !slices.Contains(c.ignored, name) {
			fields = append(fields, field{name, raw})
		}
	}) {
		return k, false
	}
	slices.SortFunc(fields, func(a, b field) int { return strings.Compare(a.name, b.name) })

	// The parts go into one buffer, each prefixed by its length plus one,
	// and the buffer is hashed once per seed: a few calls to the runtime's
	// AES hash instead of two per part. A part longer than inlinePart (the
	// messages) is hashed on its own and stands in the buffer as a 0 and
	// its two hashes, so it is not copied.
	var inline [512]byte
	parts := inline[:0]
	var sh hash.Hash
	if sha != nil {
		sh = sha256.New()
	}
	var n [binary.MaxVarintLen64]byte
	put := func(s string) {
		if len(s) <= inlinePart {
			parts = binary.AppendUvarint(parts, uint64(len(s))+1)
			parts = append(parts, s...)
		} else {
			parts = append(parts, 0)
			parts = binary.LittleEndian.AppendUint64(parts, maphash.String(c.seeds[0], s))
			parts = binary.LittleEndian.AppendUint64(parts, maphash.String(c.seeds[1], s))
		}
		if sh != nil {
			sh.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
			sh.Write(unsafe.Slice(unsafe.StringData(s), len(s)))
		}
	}
	scope := ""
	if !c.global {
		scope = req.Customer
	}
	put(scope)
	put(req.Format.Name())
	put(req.Operation)
	if req.Upstream != nil {
		put(req.Upstream.Name)
	} else {
		put("")
	}
	put(req.Method)
	put(req.Path)
	put(req.RawQuery)
	put(req.Model)
	if req.Stream {
		put("stream")
	} else {
		put("")
	}
	for _, name := range keyHeaders {
		put(strings.Join(req.Header[name], ","))
	}
	for _, f := range fields {
		put(f.name)
		put(f.raw)
	}
	binary.LittleEndian.PutUint64(k[:8], maphash.Bytes(c.seeds[0], parts))
	binary.LittleEndian.PutUint64(k[8:], maphash.Bytes(c.seeds[1], parts))
	if sh != nil {
		sh.Sum(sha[:0])
	}
	return k, true
}

// inlinePart is the longest key part copied into the key's buffer; a
// longer one is hashed where it lies.
const inlinePart = 128
