package process

import (
	"errors"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// scanInterval is how often the Reaper scans without a SIGCHLD, so that a
// lost or coalesced signal never loses an exit.
const scanInterval = 500 * time.Millisecond

// orphanScanDelay bounds how often a SIGCHLD makes an all-children Reaper
// scan with wait4(-1). That scan walks every child of the process under
// the kernel's task-list lock, which exiting and forking processes wait
// for; watched children do not need it (their pidfds report each exit),
// so it runs at most this often, for orphaned descendants.
const orphanScanDelay = 20 * time.Millisecond

// Exit is a reaped child's status.
type Exit struct {
	Pid    int
	Status syscall.WaitStatus
}

// Reaper is the only code that waits for children. One goroutine reaps
// with wait4(…, WNOHANG) and queues the exits without bound, so reaping
// never stalls on a slow receiver. Each watched child has a pidfd in an
// epoll set, which reports its exit: reaping it costs the same with ten
// children or ten thousand. SIGCHLD and a periodic scan catch the rest:
// children without a pidfd (a kernel without pidfd_open) and, with all,
// orphaned descendants.
type Reaper struct {
	all       bool
	watch     chan int
	exits     chan Exit
	quit      chan struct{} // closed by Close
	done      chan struct{} // closed when the goroutine has returned
	closeOnce sync.Once
	pidfds    *pidfdSet // nil if epoll is unavailable
}

// NewReaper starts a reaper. With all, it reaps every child of the process
// (wait4(-1)), including orphaned descendants when the process is a
// subreaper (SetSubreaper): use it in the daemon, where nothing else may
// wait. Without all, it reaps only the pids given to Watch (wait4(pid)), so
// other children (os/exec in the same program) are left alone.
func NewReaper(all bool) *Reaper {
	r := &Reaper{
		all:   all,
		watch: make(chan int),
		exits: make(chan Exit),
		quit:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	r.pidfds = newPidfdSet()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGCHLD)
	go r.loop(sigs)
	return r
}

// Watch registers pid (needed without all; harmless with all) and scans
// at once, so an exit that happened before Watch is reaped too. It does
// nothing after Close.
func (r *Reaper) Watch(pid int) {
	select {
	case r.watch <- pid:
	case <-r.quit:
	}
}

// Exits returns the channel of reaped children, in reap order. Nothing is
// ever dropped while the Reaper runs. It is closed by Close.
func (r *Reaper) Exits() <-chan Exit { return r.exits }

// Close stops the Reaper and waits for its goroutine to return; then
// Exits is closed. Exits reaped but not yet received are discarded, and
// children that exit later are no longer reaped. Idempotent.
func (r *Reaper) Close() {
	r.closeOnce.Do(func() { close(r.quit) })
	<-r.done
}

func (r *Reaper) loop(sigs chan os.Signal) {
	defer close(r.done)
	defer close(r.exits)
	defer signal.Stop(sigs)
	defer r.pidfds.close()
	tick := time.NewTicker(scanInterval)
	defer tick.Stop()

	var ready <-chan []int
	if r.pidfds != nil {
		ready = r.pidfds.ready
	}
	watched := make(map[int]struct{}) // children without a pidfd, used without all
	var orphanScan <-chan time.Time   // a pending all-children scan
	var queue []Exit
	for {
		var out chan<- Exit // nil, so disabled, while the queue is empty
		var next Exit
		if len(queue) > 0 {
			out, next = r.exits, queue[0]
		}
		select {
		case <-r.quit:
			return
		case pid := <-r.watch:
			if !r.pidfds.add(pid) && !r.all {
				watched[pid] = struct{}{}
				queue = r.scan(watched, queue)
			}
		case pids := <-ready:
			for _, pid := range pids {
				queue = r.reapReady(pid, queue)
			}
		case <-sigs:
			if r.all && orphanScan == nil {
				orphanScan = time.After(orphanScanDelay)
			} else if !r.all {
				queue = r.scan(watched, queue)
			}
		case <-orphanScan:
			orphanScan = nil
			queue = r.scan(watched, queue)
		case <-tick.C:
			queue = r.scan(watched, queue)
		case out <- next:
			queue = queue[1:]
			if len(queue) == 0 {
				queue = nil // let the backing array go
			}
		}
	}
}

// reapReady reaps pid, whose pidfd reported its exit.
func (r *Reaper) reapReady(pid int, queue []Exit) []Exit {
	if !r.pidfds.has(pid) {
		return queue // reaped meanwhile by a scan
	}
	got, ws, err := wait(pid)
	switch {
	case err != nil: // ECHILD: reaped by someone else; its status is lost
		r.pidfds.remove(pid)
	case got == pid:
		r.pidfds.remove(pid)
		queue = append(queue, Exit{Pid: pid, Status: ws})
	}
	// got == 0: a late report for an earlier child of the same pid
	return queue
}

// scan reaps every child that has exited and appends it to queue.
func (r *Reaper) scan(watched map[int]struct{}, queue []Exit) []Exit {
	if r.all {
		for {
			pid, ws, err := wait(-1)
			if err != nil || pid <= 0 {
				return queue // 0: none exited; ECHILD: no children at all
			}
			r.pidfds.remove(pid)
			queue = append(queue, Exit{Pid: pid, Status: ws})
		}
	}
	for pid := range watched {
		got, ws, err := wait(pid)
		switch {
		case err != nil:
			// ECHILD: not our child, or reaped by someone else; its
			// status is lost, and waiting again would not help.
			delete(watched, pid)
		case got == pid:
			delete(watched, pid)
			queue = append(queue, Exit{Pid: pid, Status: ws})
		}
	}
	return queue
}

// wait is wait4(pid, WNOHANG), retried on EINTR.
func wait(pid int) (int, syscall.WaitStatus, error) {
	for {
		var ws unix.WaitStatus
		got, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		return got, syscall.WaitStatus(ws), err
	}
}
