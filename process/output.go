package process

import (
	"errors"
	"io"
	"os"
	"sync"
	"sync/atomic"
)

// chunkSize is the most OnOutput receives at once; firstChunk is the
// buffer a reader starts with.
const (
	chunkSize  = 32 << 10
	firstChunk = 2 << 10
)

// source is one output the parent reads: a pipe, or a stream socket.
type source struct {
	label  string
	f      *os.File
	socket bool
}

// startReaders starts one reader per source and closes done when all have
// finished; done is closed at once when there is none.
func startReaders(sources []source, onOutput func(string, []byte), done chan struct{}) {
	if len(sources) == 0 {
		close(done)
		return
	}
	// One mutex per label, so calls for one label never overlap even when
	// several sources share it.
	locks := make(map[string]*sync.Mutex)
	for _, s := range sources {
		if locks[s.label] == nil {
			locks[s.label] = new(sync.Mutex)
		}
	}
	// The last reader to finish closes done: no extra goroutine waits.
	left := new(atomic.Int32)
	left.Store(int32(len(sources)))
	for _, s := range sources {
		go func() {
			s.read(onOutput, locks[s.label])
			if left.Add(-1) == 0 {
				close(done)
			}
		}()
	}
}

// read drains the source until EOF or an error, handing every chunk to
// onOutput (when set). A pipe is closed when reading ends; a stream socket
// is closed only on error, since it may still be written to after the
// child has shut down its writing half (Release closes it).
func (s source) read(onOutput func(string, []byte), mu *sync.Mutex) {
	// Start small: most processes write little, and a thousand idle
	// processes should not pin a thousand full-size buffers. A read that
	// fills the buffer grows it to chunkSize.
	buf := make([]byte, firstChunk)
	for {
		n, err := s.f.Read(buf)
		if n > 0 && onOutput != nil {
			mu.Lock()
			onOutput(s.label, buf[:n])
			mu.Unlock()
		}
		if n == len(buf) && len(buf) < chunkSize {
			buf = make([]byte, chunkSize)
		}
		if err != nil {
			if !s.socket || !errors.Is(err, io.EOF) {
				s.f.Close() // never leave a pipe unread and full
			}
			return
		}
	}
}
