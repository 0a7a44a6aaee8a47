package process

import (
	"cmp"
	"os"
	"sync"
	"sync/atomic"
	"unsafe"

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
	r := &reader{}
	fill := r.fill // one closure for every read, not one per read
	for {
		r.buf, r.small, r.n, r.err = nil, nil, 0, nil
		err := cmp.Or(rc.Read(fill), r.err)
		if r.n > 0 && onOutput != nil {
			mu.Lock()
			onOutput(s.label, r.buf[:r.n])
			mu.Unlock()
		}
		if r.n == len(r.buf) {
			r.own = s.grow(r.buf)
		}
		if r.small != nil {
			smallBufs.Put(r.small)
		}
		if err != nil || r.n == 0 {
			if !s.socket || err != nil {
				s.f.Close() // never leave a pipe unread and full
			}
			return
		}
	}
}

// reader is the state of one source's reads, kept across them so that a
// read allocates nothing.
type reader struct {
	own   []byte            // the reader's own buffer, once a read filled a small one
	buf   []byte            // what the last read read into: own, or small
	small *[firstChunk]byte // a buffer lent by smallBufs, for the caller to give back
	n     int               // bytes read; 0 at EOF
	err   error
}

// fill is the RawConn.Read callback: it reads once into own or, while the
// reader has none, into a buffer lent by smallBufs, and asks to wait for
// the fd to be readable, holding nothing, if there was nothing to read.
func (r *reader) fill(fd uintptr) bool {
	r.buf = r.own
	if r.buf == nil {
		r.small = smallBufs.Get().(*[firstChunk]byte)
		r.buf = r.small[:]
	}
	r.n, r.err = readFD(int(fd), r.buf)
	if r.err == unix.EAGAIN {
		if r.small != nil {
			smallBufs.Put(r.small)
			r.small, r.buf = nil, nil
		}
		return false
	}
	return true
}

// readFD is read(2) of a non-blocking fd, retried on EINTR, with n never
// negative. It is a raw system call: one that cannot block needs no
// word with the scheduler, and telling it (as unix.Read does) costs more
// than the read when a child writes fast. The scheduler's monitor thread
// sees every read that takes more than 20 µs (copying 64 KiB can) as a
// blocked thread, hands its P to another thread and keeps polling every
// 20 µs: measured on 2 vCPUs, reading 200 MB took 1.4× as long.
func readFD(fd int, buf []byte) (int, error) {
	for {
		n, _, errno := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(unsafe.SliceData(buf))), uintptr(len(buf)))
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return 0, errno
		}
		return int(n), nil
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
