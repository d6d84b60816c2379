package main

import (
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync/atomic"
)

// The service stands in for a typical Go backend: a store of small
// documents, each a tree of pointerful nodes (the live heap the collector
// must mark on every cycle), and requests that read a document, build a
// response out of many small request-scoped objects (the allocation rate),
// encode and hash it (plain CPU work), and now and then replace a document
// (so that old live data dies, as caches and sessions do).

type node struct {
	name   string
	attrs  []attr
	kids   []*node
	parent *node
	blob   []byte
}

type attr struct{ key, val string }

type doc struct {
	id   uint64
	root *node
}

// item is one request-scoped object of a response.
type item struct {
	key  string
	val  string
	ref  *node
	next *item
}

type service struct {
	docs       []atomic.Pointer[doc]
	allocBytes int     // garbage each request allocates, roughly
	rounds     int     // passes of the hash over the encoded response
	churn      float64 // probability that a request replaces a document
	docBytes   int64   // live heap one document takes
	sink       atomic.Uint64
}

const kidsPerDoc = 6

var names = []string{"account", "order", "item", "price", "region", "status", "owner", "created", "updated", "tags"}

func newNode(r *rand.Rand, parent *node) *node {
	n := &node{
		name:   names[r.IntN(len(names))] + "-" + strconv.Itoa(r.IntN(1000)),
		attrs:  make([]attr, 2),
		parent: parent,
		blob:   make([]byte, 32),
	}
	for i := range n.attrs {
		n.attrs[i] = attr{key: names[r.IntN(len(names))], val: strconv.FormatUint(r.Uint64()%1e9, 36)}
	}
	for i := range n.blob {
		n.blob[i] = byte(r.Uint32())
	}
	return n
}

func newDoc(r *rand.Rand, id uint64) *doc {
	root := newNode(r, nil)
	root.kids = make([]*node, kidsPerDoc)
	for i := range root.kids {
		root.kids[i] = newNode(r, root)
	}
	return &doc{id: id, root: root}
}

// heapObjectBytes is the live-and-dead object bytes of the heap; right
// after a GC it is the live heap.
func heapObjectBytes() int64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}

// docBytes measures how much live heap one document takes, so that the
// store can be sized in bytes rather than in documents.
func measureDocBytes() int64 {
	r := rand.New(rand.NewPCG(1, 2))
	runtime.GC()
	before := heapObjectBytes()
	probe := make([]*doc, 2000)
	for i := range probe {
		probe[i] = newDoc(r, uint64(i))
	}
	runtime.GC()
	after := heapObjectBytes()
	runtime.KeepAlive(probe)
	per := (after - before) / int64(len(probe))
	if per < 256 {
		per = 256 // a GC racing the probe must not make the store huge
	}
	return per
}

// buildDocs returns about bytes of live documents.
func buildDocs(r *rand.Rand, bytes, per int64) []*doc {
	n := int(bytes / per)
	out := make([]*doc, n)
	for i := range out {
		out[i] = newDoc(r, uint64(i))
	}
	return out
}

func newService(liveBytes int64, allocBytes, rounds int, churn float64) *service {
	per := measureDocBytes()
	r := rand.New(rand.NewPCG(3, 4))
	built := buildDocs(r, liveBytes, per)
	s := &service{
		docs:       make([]atomic.Pointer[doc], len(built)),
		allocBytes: allocBytes,
		rounds:     rounds,
		churn:      churn,
		docBytes:   per,
	}
	for i, d := range built {
		s.docs[i].Store(d)
	}
	return s
}

// handle serves one request. seed makes each request's choices differ
// without a shared random source (which would serialize the goroutines).
func (s *service) handle(seed uint64) {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	d := s.docs[r.IntN(len(s.docs))].Load()

	// Build the response: request-scoped objects pointing into the live
	// document, as a handler building a reply does.
	var head *item
	allocated := 0
	var num [20]byte
	for allocated < s.allocBytes {
		for _, n := range append([]*node{d.root}, d.root.kids...) {
			for _, a := range n.attrs {
				head = &item{key: a.key, val: string(strconv.AppendUint(num[:0], r.Uint64(), 36)), ref: n, next: head}
				allocated += 64 // item (48 B) and its value string (16 B)
			}
		}
		allocated += 64 // the node slice above
	}

	// Encode, as a JSON or protobuf encoder would, into a growing buffer.
	buf := make([]byte, 0, 512)
	for it := head; it != nil; it = it.next {
		buf = append(buf, '"')
		buf = append(buf, it.key...)
		buf = append(buf, `":"`...)
		buf = append(buf, it.val...)
		buf = append(buf, it.ref.name...)
		buf = append(buf, '"', ',')
	}

	// Checksum it: plain CPU work that scales with s.rounds.
	h := uint64(14695981039346656037)
	for range s.rounds {
		for _, c := range buf {
			h ^= uint64(c)
			h *= 1099511628211
		}
	}
	s.sink.Add(h)

	if r.Float64() < s.churn {
		i := r.IntN(len(s.docs))
		s.docs[i].Store(newDoc(r, r.Uint64()))
	}
}
