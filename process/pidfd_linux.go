package process

import (
	"cmp"
	"os"

	"golang.org/x/sys/unix"
)

// pidfdSet is the pidfds of the watched children in one epoll set, and a
// goroutine that reports the pids whose pidfd became readable: a pidfd is
// readable once its process has exited. The set itself (add, has, remove,
// close) belongs to the Reaper's goroutine; the reporting goroutine only
// waits on the epoll descriptor.
type pidfdSet struct {
	ep    *os.File      // the epoll descriptor, in Go's netpoller
	fds   map[int]int   // pid → pidfd
	ready chan []int    // pids whose process has exited
	quit  chan struct{} // closed by close
}

// newPidfdSet returns an empty set, or nil if the system has no epoll.
func newPidfdSet() *pidfdSet {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil
	}
	if err := unix.SetNonblock(epfd, true); err != nil {
		unix.Close(epfd)
		return nil
	}
	s := &pidfdSet{ep: os.NewFile(uintptr(epfd), "pidfds"), fds: make(map[int]int), ready: make(chan []int), quit: make(chan struct{})}
	go s.report()
	return s
}

// add puts pid's pidfd in the set; false if it cannot (no pidfd_open, or
// no such process any more).
func (s *pidfdSet) add(pid int) bool {
	if s == nil {
		return false
	}
	if old, ok := s.fds[pid]; ok { // a stale entry for a reused pid
		unix.Close(old)
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return false
	}
	// One-shot: a pidfd stays readable, and it is reported once.
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLONESHOT, Fd: int32(pid)}
	rc, err := s.ep.SyscallConn()
	if err == nil {
		cerr := rc.Control(func(epfd uintptr) { err = unix.EpollCtl(int(epfd), unix.EPOLL_CTL_ADD, fd, &ev) })
		err = cmp.Or(cerr, err)
	}
	if err != nil {
		unix.Close(fd)
		return false
	}
	s.fds[pid] = fd
	return true
}

func (s *pidfdSet) has(pid int) bool {
	if s == nil {
		return false
	}
	_, ok := s.fds[pid]
	return ok
}

// remove closes pid's pidfd, which also takes it out of the epoll set.
func (s *pidfdSet) remove(pid int) {
	if s == nil {
		return
	}
	if fd, ok := s.fds[pid]; ok {
		unix.Close(fd)
		delete(s.fds, pid)
	}
}

// close closes every pidfd and the epoll descriptor, which ends report.
func (s *pidfdSet) close() {
	if s == nil {
		return
	}
	for pid := range s.fds {
		s.remove(pid)
	}
	close(s.quit)
	s.ep.Close()
}

// report sends the pids of exited processes on ready until the epoll
// descriptor is closed.
func (s *pidfdSet) report() {
	rc, err := s.ep.SyscallConn()
	if err != nil {
		return
	}
	events := make([]unix.EpollEvent, 128)
	for {
		var pids []int
		err := rc.Read(func(epfd uintptr) bool {
			n, err := unix.EpollWait(int(epfd), events, 0)
			for err == unix.EINTR {
				n, err = unix.EpollWait(int(epfd), events, 0)
			}
			if err != nil || n <= 0 {
				return false // nothing yet: wait for readiness
			}
			for _, ev := range events[:n] {
				pids = append(pids, int(ev.Fd))
			}
			return true
		})
		if err != nil {
			return // closed
		}
		select {
		case s.ready <- pids:
		case <-s.quit:
			return
		}
	}
}
