package process

import (
	"errors"
	"io"
	"os"
	"sync"
)

// chunkSize is the most OnOutput receives at once.
const chunkSize = 32 << 10

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
	var wg sync.WaitGroup
	for _, s := range sources {
		wg.Go(func() { s.read(onOutput, locks[s.label]) })
	}
	go func() {
		wg.Wait()
		close(done)
	}()
}

// read drains the source until EOF or an error, handing every chunk to
// onOutput (when set). A pipe is closed when reading ends; a stream socket
// is closed only on error, since it may still be written to after the
// child has shut down its writing half (Release closes it).
func (s source) read(onOutput func(string, []byte), mu *sync.Mutex) {
	buf := make([]byte, chunkSize)
	for {
		n, err := s.f.Read(buf)
		if n > 0 && onOutput != nil {
			mu.Lock()
			onOutput(s.label, buf[:n])
			mu.Unlock()
		}
		if err != nil {
			if !s.socket || !errors.Is(err, io.EOF) {
				s.f.Close() // never leave a pipe unread and full
			}
			return
		}
	}
}
