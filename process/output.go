package process

import (
	"cmp"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// A reader's buffer starts at firstChunk and grows to midChunk, then to
// bigChunk (the most OnOutput receives at once), each time a read fills
// it. When a pipe fills midChunk, the child writes faster than it is read
// and the pipe itself grows to bigPipe (from Linux's 64 KiB default), so
// the reader wakes up, and the child blocks, a quarter as often.
const (
	firstChunk = 2 << 10
	midChunk   = 64 << 10
	bigChunk   = 256 << 10
	bigPipe    = 256 << 10
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

// smallBufs lends firstChunk buffers to readers for one read at a time:
// a reader waits for its pipe to be readable holding no buffer, so a
// thousand idle processes pin none.
var smallBufs = sync.Pool{New: func() any { return new([firstChunk]byte) }}

// read drains the source until EOF or an error, handing every chunk to
// onOutput (when set). A pipe is closed when reading ends; a stream socket
// is closed only on error, since it may still be written to after the
// child has shut down its writing half (Release closes it).
func (s source) read(onOutput func(string, []byte), mu *sync.Mutex) {
	rc, err := s.f.SyscallConn()
	if err != nil {
		s.f.Close()
		return
	}
	var own []byte // the reader's own buffer, once a read filled a small one
	for {
		buf, small, n, err := readOnce(rc, own)
		if n > 0 && onOutput != nil {
			mu.Lock()
			onOutput(s.label, buf[:n])
			mu.Unlock()
		}
		if n == len(buf) {
			own = s.grow(buf)
		}
		if small != nil {
			smallBufs.Put(small)
		}
		if err != nil || n == 0 {
			if !s.socket || err != nil {
				s.f.Close() // never leave a pipe unread and full
			}
			return
		}
	}
}

// readOnce waits until rc is readable and reads once: into own or, while
// the reader has none, into a buffer lent by smallBufs, returned as small
// for the caller to give back. n is 0 at EOF.
func readOnce(rc syscall.RawConn, own []byte) (buf []byte, small *[firstChunk]byte, n int, err error) {
	var rerr error
	cerr := rc.Read(func(fd uintptr) bool {
		buf = own
		if buf == nil {
			small = smallBufs.Get().(*[firstChunk]byte)
			buf = small[:]
		}
		n, rerr = readFD(int(fd), buf)
		if rerr == unix.EAGAIN {
			if small != nil {
				smallBufs.Put(small)
				small, buf = nil, nil
			}
			return false // wait until readable, holding nothing
		}
		return true
	})
	return buf, small, n, cmp.Or(cerr, rerr)
}

// readFD is read(2), retried on EINTR, with n never negative.
func readFD(fd int, buf []byte) (int, error) {
	for {
		n, err := unix.Read(fd, buf)
		if err != unix.EINTR {
			return max(n, 0), err
		}
	}
}

// grow returns the next size of a reader's buffer after a read filled
// buf, growing the pipe too on the way to the biggest.
func (s source) grow(buf []byte) []byte {
	switch len(buf) {
	case firstChunk: // a small lent buffer: the reader now needs its own
		return make([]byte, midChunk)
	case midChunk:
		if !s.socket {
			growPipe(s.f)
		}
		return make([]byte, bigChunk)
	}
	return buf
}

// growPipe raises the capacity of the pipe f to bigPipe, if the system
// lets it (an unprivileged user's pipes share a limit); the kernel only
// allocates the pages that hold unread data.
func growPipe(f *os.File) {
	// Control, not Fd: Fd would switch the file to blocking mode.
	if rc, err := f.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) { _, _ = unix.FcntlInt(fd, unix.F_SETPIPE_SZ, bigPipe) })
	}
}
