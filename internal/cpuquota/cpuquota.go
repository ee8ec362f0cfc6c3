// Package cpuquota finds the CPU quota a Linux cgroup puts on this process
// (a container's CPU limit: CFS bandwidth control) and, while the process is
// busy under one, has the kernel count the CPU it has used every fraction of
// a millisecond, so that the quota's throttling comes as many short pauses
// instead of fewer, longer ones.
//
// Why: the kernel checks a task's CPU time against the quota when it
// accounts it, which it does when the task blocks or wakes another and at
// every scheduler tick (4 ms at CONFIG_HZ=250). Redis and most servers block
// between requests many times a millisecond, so they are stopped right at
// the end of their quota. A Go server under load need not block at all: it
// runs on past its quota until the next tick, then sits out the whole debt.
// Under a 0.6-core quota with 5 ms periods that made our GET p99 6.3-6.9 ms
// where the same server accounted every 500 µs gave 3.7-4.4 ms, at the same
// requests/s (BENCHMARKS.md, "HTTP load: where the time goes").
//
// sched_yield accounts the CPU the calling thread is on; a process spread
// over several CPUs is accounted promptly on that one only. It was measured
// on a server pinned to one core, the usual shape of a cache sidecar.
package cpuquota

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"time"
)

// Quota is a CPU bandwidth limit: Runtime of CPU time in every Period.
type Quota struct {
	Runtime time.Duration // CPU time the cgroup may use per period
	Period  time.Duration // how often that budget is renewed
}

// Cores is the quota as a share of one core: 0.6 for 3 ms in every 5 ms.
func (q Quota) Cores() float64 { return float64(q.Runtime) / float64(q.Period) }

// String says the quota in an operator's words.
func (q Quota) String() string {
	return fmt.Sprintf("%.3g of a core (%v of every %v)", q.Cores(), q.Runtime, q.Period)
}

// find reads the quota of the cgroups this process is in from fsys, a view
// of the root file system: /proc/self/cgroup names the process's cgroups,
// /proc/self/mountinfo where their hierarchies are mounted. Both cgroup v2
// (cpu.max) and v1 (cpu.cfs_quota_us) count; of the process's cgroup and its
// ancestors the tightest quota wins, since each of them applies. A file it
// cannot read is reported in err beside whatever quota the others gave.
func find(fsys fs.FS) (Quota, bool, error) {
	groups, err := fs.ReadFile(fsys, "proc/self/cgroup")
	if err != nil {
		return Quota{}, false, fmt.Errorf("cpuquota: the process's cgroups: %w", err)
	}
	mounts, err := fs.ReadFile(fsys, "proc/self/mountinfo")
	if err != nil {
		return Quota{}, false, fmt.Errorf("cpuquota: the mount table: %w", err)
	}
	var best Quota
	found := false
	var errs []error
	for _, m := range cgroupMounts(mounts) {
		group, ok := groupPath(groups, m.v2)
		if !ok || strings.Contains(group, "..") {
			continue // a cgroup outside this namespace's view
		}
		rel, ok := within(group, m.root)
		if !ok {
			continue // the process's cgroup is outside what is mounted here
		}
		// From the process's own cgroup up to the mount point, never above.
		for dir := path.Join(m.point, rel); ; dir = path.Dir(dir) {
			q, ok, err := readQuota(fsys, strings.TrimPrefix(dir, "/"), m.v2)
			if err != nil {
				errs = append(errs, err) // one unreadable file does not hide another's quota
			}
			if ok && (!found || q.Cores() < best.Cores()) {
				best, found = q, true
			}
			if dir == m.point || dir == "/" || dir == "." {
				break
			}
		}
	}
	return best, found, errors.Join(errs...)
}

// within is group's path below root, a cgroup hierarchy's mounted part:
// "/docker/abc" is within "/docker" but "/docker/abcdef" not within "/docker/abc".
func within(group, root string) (string, bool) {
	if root == "/" {
		return group, true
	}
	rel, ok := strings.CutPrefix(group, root)
	if !ok || rel != "" && !strings.HasPrefix(rel, "/") {
		return "", false
	}
	return rel, true
}

// cgroupMount is where a hierarchy with the cpu controller is mounted.
type cgroupMount struct {
	root  string // the hierarchy's path that is mounted
	point string // where it is mounted
	v2    bool
}

// cgroupMounts picks the cgroup v2 mounts and the cgroup v1 mounts of the
// cpu controller out of /proc/self/mountinfo, whose lines read
// "id parent major:minor root mount-point options [optional…] - type source super-options".
func cgroupMounts(mountinfo []byte) []cgroupMount {
	var out []cgroupMount
	sc := bufio.NewScanner(bytes.NewReader(mountinfo))
	for sc.Scan() {
		before, after, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		f, g := strings.Fields(before), strings.Fields(after)
		if len(f) < 5 || len(g) < 3 {
			continue
		}
		m := cgroupMount{root: unescape(f[3]), point: unescape(f[4])}
		switch {
		case g[0] == "cgroup2":
			m.v2 = true
		case g[0] == "cgroup" && hasOption(g[2], "cpu"):
		default:
			continue
		}
		out = append(out, m)
	}
	return out
}

// unescape undoes mountinfo's octal escapes of spaces and the like ("\040").
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func hasOption(options, want string) bool {
	for o := range strings.SplitSeq(options, ",") {
		if o == want {
			return true
		}
	}
	return false
}

// groupPath finds the process's cgroup in /proc/self/cgroup, whose lines read
// "hierarchy-id:controllers:path": "0::path" for v2, one line per v1
// hierarchy, the cpu controller's among its comma-separated controllers.
func groupPath(cgroup []byte, v2 bool) (string, bool) {
	sc := bufio.NewScanner(bytes.NewReader(cgroup))
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), ":", 3)
		if len(parts) != 3 {
			continue
		}
		if v2 && parts[0] == "0" && parts[1] == "" || !v2 && hasOption(parts[1], "cpu") {
			return parts[2], true
		}
	}
	return "", false
}

// readQuota reads one cgroup directory's quota; ok is false when it has
// none ("max" in v2, -1 in v1) or no such files.
func readQuota(fsys fs.FS, dir string, v2 bool) (Quota, bool, error) {
	if v2 {
		b, ok, err := readIfThere(fsys, dir, "cpu.max")
		if !ok {
			return Quota{}, false, err
		}
		f := strings.Fields(b)
		if len(f) != 2 {
			return Quota{}, false, fmt.Errorf("cpuquota: /%s/cpu.max holds %q, not \"quota period\"", dir, b)
		}
		if f[0] == "max" {
			return Quota{}, false, nil
		}
		return parseQuota(dir+"/cpu.max", f[0], f[1])
	}
	q, ok, err := readIfThere(fsys, dir, "cpu.cfs_quota_us")
	if !ok || q == "-1" {
		return Quota{}, false, err
	}
	period, ok, err := readIfThere(fsys, dir, "cpu.cfs_period_us")
	if !ok {
		return Quota{}, false, errors.Join(err, fmt.Errorf("cpuquota: /%s has cpu.cfs_quota_us without cpu.cfs_period_us", dir))
	}
	return parseQuota(dir+"/cpu.cfs_quota_us", q, period)
}

// readIfThere reads dir/name, its spaces trimmed; ok is false when it cannot,
// err nil when the file is not there.
func readIfThere(fsys fs.FS, dir, name string) (text string, ok bool, err error) {
	b, err := fs.ReadFile(fsys, path.Join(dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("cpuquota: %w", err)
	}
	return strings.TrimSpace(string(b)), true, nil
}

func parseQuota(file, runtime, period string) (Quota, bool, error) {
	r, err1 := strconv.ParseInt(runtime, 10, 64)
	p, err2 := strconv.ParseInt(period, 10, 64)
	if err1 != nil || err2 != nil || r <= 0 || p <= 0 {
		return Quota{}, false, fmt.Errorf("cpuquota: /%s: quota %q and period %q are not positive microseconds", file, runtime, period)
	}
	return Quota{Runtime: time.Duration(r) * time.Microsecond, Period: time.Duration(p) * time.Microsecond}, true, nil
}

// Accountant has the kernel account this process's CPU time every Tick while
// the process uses at least Busy of a core, looking every Window at what it
// used; when it uses less it only looks, so an idle server costs a wake-up
// per Window.
type Accountant struct {
	Tick   time.Duration // between two accountings while busy
	Window time.Duration // how often it looks at the CPU used
	Busy   float64       // share of one core from which the process counts as busy

	// What it runs on; New fills them in for this process.
	cpu   func() time.Duration                            // CPU time used so far
	now   func() time.Time                                // the wall clock
	sleep func(ctx context.Context, d time.Duration) bool // false once ctx is done
	yield func()                                          // has the kernel account the CPU used
}

// DefaultTick is how often a busy process under a quota is accounted: with
// 5 ms periods, 500 µs and 1 ms gave a GET p99 of 3.7-4.4 and 4.1 ms, ticks
// under 500 µs no better.
const DefaultTick = 500 * time.Microsecond

// MinTick is the shortest tick accepted: below it the yields themselves
// would be a load.
const MinTick = 50 * time.Microsecond

// New is the Accountant for a process under q: busy from half of q's
// share of a core, looking every 20 ms.
func New(q Quota, tick time.Duration) *Accountant {
	return &Accountant{
		Tick: tick, Window: 20 * time.Millisecond, Busy: q.Cores() / 2,
		cpu: processCPU, now: time.Now, sleep: sleepCtx, yield: yield,
	}
}

// Run accounts until ctx is done.
func (a *Accountant) Run(ctx context.Context) {
	ticks := max(1, int(a.Window/a.Tick))
	lastCPU, lastWall := a.cpu(), a.now()
	busy := false
	for {
		if busy {
			for range ticks {
				if !a.sleep(ctx, a.Tick) {
					return
				}
				a.yield()
			}
		} else if !a.sleep(ctx, a.Window) {
			return
		}
		cpu, wall := a.cpu(), a.now()
		busy = float64(cpu-lastCPU) >= a.Busy*float64(wall.Sub(lastWall))
		lastCPU, lastWall = cpu, wall
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
