package manifest

import (
	"github.com/go-json-experiment/json/jsontext"
	"github.com/setwarden/setwarden/internal/fastyaml"
)

// Decoding a document costs several times what reading and splitting it
// does, so with more than one core a Walk spreads it out: the goroutine
// that called Walk reads the files and cuts them into documents, workers
// convert and decode them, and the calling goroutine hands the results to
// the Visitor in input order. Documents travel in small batches, so that
// handing one over costs little next to decoding it, and only a few batches
// are in flight at a time, so that memory does not grow with the input.
const (
	// batchItems is how many documents (or problems) a batch holds: at
	// about 30 µs per document, enough to make a hand-over negligible.
	batchItems = 8
	// batchBytes closes a batch of large documents early.
	batchBytes = 256 << 10
	// windowPerWorker is how many batches may be in flight per worker:
	// enough that a worker rarely waits while the oldest batch is being
	// finished or the calling goroutine is reading (3 left a second core
	// idle a fifth of the time).
	windowPerWorker = 8
	// windowBytes bounds the documents in flight, so that large ones do
	// not fill the window: past it, the oldest batch is handed over first.
	windowBytes = 16 << 20
	// maxKeptBuffer is the largest batch buffer kept for reuse, so that one
	// huge document does not pin its size for the rest of the walk.
	maxKeptBuffer = 1 << 20
)

// stream is one file or stream being read. A panic while reading it ends
// it, as it did when documents were decoded as they were read: what it
// would have yielded after that is dropped.
type stream struct {
	file   string
	inDir  bool // met in a directory walk
	failed bool
}

type itemKind uint8

const (
	itemYAML   itemKind = iota // a YAML document to convert and decode
	itemJSON                   // a JSON value to decode
	itemError                  // an input error met while reading
	itemNotice                 // a file skipped on purpose
	itemPanic                  // a panic while reading
)

// item is one step of the input, in order: a document to decode, or what
// the reading goroutine found itself.
type item struct {
	kind itemKind
	st   *stream // nil for problems outside any stream, such as a missing path
	src  Source
	// data is the YAML document or JSON value. YAML documents are copied
	// into the batch buffer at off, and data is set when the batch is full.
	data      []byte
	off       int
	chunkLine int // of a YAML document
	depth     int // of a JSON value: List nesting
	// raw, rawLine and fastYAML are what the item's Documents carry: for
	// the items of a List, the List's.
	raw      []byte
	rawLine  int
	fastYAML bool
	problem  Problem
	panicVal any
}

type eventKind uint8

const (
	evDocument eventKind = iota
	evError
	evNotice
	evPanic
	evList
)

// event is one thing to hand to the Visitor, recorded by a worker.
type event struct {
	kind     eventKind
	st       *stream
	doc      Document
	problem  Problem
	panicVal any
	list     *pendingList
}

// pendingList is a List whose items are still to be decoded. Workers hand
// Lists back instead of decoding their items, so that a List of thousands
// of objects is decoded in parallel too, a window at a time, rather than
// held all at once.
type pendingList struct {
	src      Source
	depth    int
	items    []jsontext.Value
	raw      []byte
	rawLine  int
	fastYAML bool
}

// batch is a few consecutive items and, once decoded, their events.
type batch struct {
	items  []item
	buf    []byte
	size   int // bytes of data, to close batches of large documents early
	events []event
	done   chan struct{} // receives once the events are ready
	ready  bool          // done was received
	// rec records what a decoder reports as events of the stream st,
	// prepared with prepare (the Visitor's Prepare) if set.
	rec     Visitor
	prepare func(*Document) any
	st      *stream
	onList  func(d *decoder, src Source, items []jsontext.Value, depth int)
}

func newBatch() *batch {
	b := &batch{done: make(chan struct{}, 1)}
	b.rec = Visitor{
		Document: func(d *Document) {
			if b.prepare != nil {
				d.Prepared = b.prepare(d)
			}
			b.events = append(b.events, event{kind: evDocument, st: b.st, doc: *d})
		},
		Error:  func(p Problem) { b.events = append(b.events, event{kind: evError, st: b.st, problem: p}) },
		Notice: func(p Problem) { b.events = append(b.events, event{kind: evNotice, st: b.st, problem: p}) },
	}
	b.onList = func(d *decoder, src Source, items []jsontext.Value, depth int) {
		l := &pendingList{src: src, depth: depth, items: items, raw: d.raw, rawLine: d.rawLine, fastYAML: d.fastYAML}
		b.events = append(b.events, event{kind: evList, st: b.st, list: l})
	}
	return b
}

// seal points the YAML items at their text, now that the buffer no longer
// grows.
func (b *batch) seal() {
	for i := range b.items {
		it := &b.items[i]
		if it.kind == itemYAML {
			it.data = b.buf[it.off : it.off+len(it.data)]
			it.raw = it.data
		}
	}
}

// decode turns the items into events. It runs on a worker, or on the
// calling goroutine when the whole walk fits in one batch.
func (b *batch) decode(fast *fastyaml.Converter) {
	for i := range b.items {
		it := &b.items[i]
		b.st = it.st
		switch it.kind {
		case itemYAML, itemJSON:
			b.decodeItem(it, fast)
		case itemError:
			b.events = append(b.events, event{kind: evError, st: it.st, problem: it.problem})
		case itemNotice:
			b.events = append(b.events, event{kind: evNotice, st: it.st, problem: it.problem})
		case itemPanic:
			b.events = append(b.events, event{kind: evPanic, st: it.st, panicVal: it.panicVal})
		}
	}
	b.st = nil
}

func (b *batch) decodeItem(it *item, fast *fastyaml.Converter) {
	defer func() {
		// The decoders are not ours; a panic in one must not lose the report.
		if p := recover(); p != nil {
			*fast = fastyaml.Converter{} // it may have stopped half-way
			b.events = append(b.events, event{kind: evPanic, st: it.st, panicVal: p})
		}
	}()
	d := &decoder{v: &b.rec, raw: it.raw, rawLine: it.rawLine, fast: fast, fastYAML: it.fastYAML, deferList: b.onList,
		skipNonObjects: it.st != nil && it.st.inDir}
	if it.kind == itemYAML {
		d.decodeYAMLDocument(it.src, it.chunkLine, it.data)
		return
	}
	d.decodeObject(it.src, it.data, it.depth)
}

// reset empties the batch for reuse, dropping its references to objects.
func (b *batch) reset() {
	clear(b.items)
	clear(b.events)
	b.items, b.events, b.size, b.ready = b.items[:0], b.events[:0], 0, false
	b.buf = b.buf[:0]
	if cap(b.buf) > maxKeptBuffer {
		b.buf = nil
	}
}

// pool is the workers of one walk. Only the calling goroutine submits.
type pool struct {
	workers int
	work    chan *batch
	started bool
	stopped bool
	free    []*batch
	fast    fastyaml.Converter // for batches decoded on the calling goroutine
}

func newPool(workers int) *pool {
	// Lists nest, each level with its own window, so a send never waits.
	return &pool{workers: workers, work: make(chan *batch, windowPerWorker*workers*(maxListDepth+1))}
}

// submit hands b to the workers, starting them on first use, so that a walk
// that fits in one batch starts no goroutine.
func (p *pool) submit(b *batch) {
	if !p.started {
		p.started = true
		for range p.workers {
			go p.run()
		}
	}
	p.work <- b
}

func (p *pool) run() {
	var fast fastyaml.Converter
	for b := range p.work {
		b.decode(&fast)
		b.done <- struct{}{}
	}
}

// stop ends the workers once the batches in flight are decoded. Nothing is
// submitted after.
func (p *pool) stop() {
	if p.started && !p.stopped {
		close(p.work)
	}
	p.stopped = true
}

func (p *pool) get() *batch {
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free = p.free[:n-1]
		return b
	}
	return newBatch()
}

func (p *pool) put(b *batch) {
	b.reset()
	p.free = append(p.free, b)
}

// queue takes items in input order, has the workers decode them, and hands
// the results to the Visitor in the same order, on the goroutine that adds
// the items.
type queue struct {
	pool    *pool
	v       *Visitor // the caller's
	window  int
	cur     *batch   // being filled
	pending []*batch // submitted, oldest first
	// pendingBytes is the size of the documents in pending.
	pendingBytes int
	st           *stream // the stream being read, for the problems met in it
}

func newQueue(p *pool, v *Visitor) *queue {
	return &queue{pool: p, v: v, window: windowPerWorker * p.workers}
}

// problemVisitor returns the Visitor the reading code reports to: its
// problems take their place in the queue, behind the documents before them.
func (q *queue) problemVisitor() *Visitor {
	return &Visitor{
		Filter: q.v.Filter,
		Error:  func(p Problem) { q.add(item{kind: itemError, st: q.st, problem: p}) },
		Notice: func(p Problem) { q.add(item{kind: itemNotice, st: q.st, problem: p}) },
	}
}

func (q *queue) batch() *batch {
	if q.cur == nil {
		q.cur = q.pool.get()
		q.cur.prepare = q.v.Prepare
	}
	return q.cur
}

// addYAML queues a YAML document, copying it: the splitter reuses doc.
func (q *queue) addYAML(st *stream, src Source, chunkLine int, doc []byte) {
	b := q.batch()
	off := len(b.buf)
	b.buf = append(b.buf, doc...)
	q.add(item{kind: itemYAML, st: st, src: src, data: b.buf[off:], off: off, chunkLine: chunkLine, rawLine: chunkLine})
}

func (q *queue) add(it item) {
	b := q.batch()
	b.items = append(b.items, it)
	b.size += len(it.data)
	if len(b.items) >= batchItems || b.size >= batchBytes {
		q.submit()
	}
}

// submit sends the current batch to the workers, then hands over the
// results that are ready, waiting for the oldest while the window is full.
func (q *queue) submit() {
	b := q.cur
	q.cur = nil
	b.seal()
	q.pending = append(q.pending, b)
	q.pendingBytes += b.size
	q.pool.submit(b)
	for len(q.pending) >= q.window || q.pendingBytes > windowBytes {
		q.deliverOldest()
	}
	for len(q.pending) > 0 && q.ready(q.pending[0]) {
		q.deliverOldest()
	}
}

func (q *queue) ready(b *batch) bool {
	select {
	case <-b.done:
		b.ready = true
	default:
	}
	return b.ready
}

// finish hands over everything queued. A walk that never filled a batch is
// decoded here, without workers.
func (q *queue) finish() {
	if b := q.cur; b != nil {
		if q.pool.started {
			q.submit()
		} else {
			q.cur = nil
			b.seal()
			b.decode(&q.pool.fast)
			q.deliver(b)
		}
	}
	for len(q.pending) > 0 {
		q.deliverOldest()
	}
}

func (q *queue) deliverOldest() {
	b := q.pending[0]
	if !b.ready {
		<-b.done
	}
	q.pending = append(q.pending[:0], q.pending[1:]...)
	q.pendingBytes -= b.size
	q.deliver(b)
}

func (q *queue) deliver(b *batch) {
	for i := range b.events {
		q.deliverEvent(&b.events[i])
	}
	q.pool.put(b)
}

func (q *queue) deliverEvent(e *event) {
	if e.st != nil && e.st.failed {
		return
	}
	defer func() {
		// A panic in a callback ends its stream, as it did when callbacks
		// ran inside the stream's reading.
		if p := recover(); p != nil {
			q.fail(e.st, p)
		}
	}()
	switch e.kind {
	case evDocument:
		if q.v.Document != nil {
			doc := e.doc // the caller may keep it; e is reused
			q.v.Document(&doc)
		}
	case evError:
		if q.v.Error != nil {
			q.v.Error(e.problem)
		}
	case evNotice:
		if q.v.Notice != nil {
			q.v.Notice(e.problem)
		}
	case evPanic:
		q.fail(e.st, e.panicVal)
	case evList:
		q.expand(e.st, e.list)
	}
}

// fail reports a panic while reading st and drops the rest of st. Outside
// any stream, nothing caught panics before either.
func (q *queue) fail(st *stream, p any) {
	if st == nil {
		panic(p)
	}
	st.failed = true
	q.v.errorf(Source{File: st.file}, "internal error while reading: %v", p)
}

// expand decodes the items of a List with the workers, and hands them over
// before anything that follows the List.
func (q *queue) expand(st *stream, l *pendingList) {
	sub := newQueue(q.pool, q.v)
	for _, value := range l.items {
		if st.failed {
			break
		}
		sub.add(item{kind: itemJSON, st: st, src: l.src, data: value, depth: l.depth + 1,
			raw: l.raw, rawLine: l.rawLine, fastYAML: l.fastYAML})
	}
	sub.finish()
}
