package cpuquota

import (
	"context"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mountinfo lines as Linux writes them: cgroup v1 with cpu and cpuacct
// mounted apart (this project's bench machine), or together, and v2.
const (
	v1Mounts = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
`
	v1Together = `26 25 0:23 /docker/abc /sys/fs/cgroup/cpu,cpuacct ro,nosuid shared:9 - cgroup cgroup rw,cpu,cpuacct
`
	v2Mounts = `24 29 0:22 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate
`
	v1Groups = `9:name=systemd:/
4:memory:/x
2:cpuacct:/
1:cpu:/bench.42
`
)

func TestFind(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		want  Quota // zero: none
	}{{
		name: "v1, the process in a capped cgroup",
		files: map[string]string{
			"proc/self/cgroup": v1Groups, "proc/self/mountinfo": v1Mounts,
			"sys/fs/cgroup/cpu/cpu.cfs_quota_us": "-1\n", "sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000\n",
			"sys/fs/cgroup/cpu/bench.42/cpu.cfs_quota_us": "3000\n", "sys/fs/cgroup/cpu/bench.42/cpu.cfs_period_us": "5000\n",
		},
		want: Quota{3 * time.Millisecond, 5 * time.Millisecond},
	}, {
		name: "v1, no quota anywhere",
		files: map[string]string{
			"proc/self/cgroup": v1Groups, "proc/self/mountinfo": v1Mounts,
			"sys/fs/cgroup/cpu/cpu.cfs_quota_us": "-1\n", "sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000\n",
			"sys/fs/cgroup/cpu/bench.42/cpu.cfs_quota_us": "-1\n", "sys/fs/cgroup/cpu/bench.42/cpu.cfs_period_us": "100000\n",
		},
	}, {
		name: "v1 in a container: the mount's root is the process's cgroup",
		files: map[string]string{
			"proc/self/cgroup": "3:cpu,cpuacct:/docker/abc\n", "proc/self/mountinfo": v1Together,
			"sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us": "150000", "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us": "100000",
		},
		want: Quota{150 * time.Millisecond, 100 * time.Millisecond},
	}, {
		name: "v2: the tightest of the cgroup and its parents",
		files: map[string]string{
			"proc/self/cgroup": "0::/kubepods/pod1/c1\n", "proc/self/mountinfo": v2Mounts,
			"sys/fs/cgroup/kubepods/cpu.max":         "max 100000\n",
			"sys/fs/cgroup/kubepods/pod1/cpu.max":    "50000 100000\n",
			"sys/fs/cgroup/kubepods/pod1/c1/cpu.max": "200000 100000\n",
		},
		want: Quota{50 * time.Millisecond, 100 * time.Millisecond},
	}, {
		name: "v2 without the cpu controller: no cpu.max files",
		files: map[string]string{
			"proc/self/cgroup": "0::/user.slice\n", "proc/self/mountinfo": v2Mounts,
		},
	}, {
		name: "v2, a mount point with a space",
		files: map[string]string{
			"proc/self/cgroup":    "0::/a\n",
			"proc/self/mountinfo": `24 29 0:22 / /cg\040root rw - cgroup2 cgroup2 rw` + "\n",
			"cg root/a/cpu.max":   "2000 5000",
		},
		want: Quota{2 * time.Millisecond, 5 * time.Millisecond},
	}, {
		name: "a mount root that is only a prefix of the cgroup's name is not its cgroup",
		files: map[string]string{
			"proc/self/cgroup": "3:cpu,cpuacct:/docker/abcdef\n", "proc/self/mountinfo": v1Together,
			"sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us": "10000", "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us": "100000",
		},
	}, {
		name: "a cgroup outside the namespace's view is not followed out of the mount",
		files: map[string]string{
			"proc/self/cgroup": "0::/../other\n", "proc/self/mountinfo": v2Mounts,
			"sys/fs/other/cpu.max": "1000 100000", "sys/fs/cpu.max": "1000 100000",
		},
	}, {
		name: "the walk stops at the mount point",
		files: map[string]string{
			"proc/self/cgroup": "0::/a\n", "proc/self/mountinfo": v2Mounts,
			"sys/fs/cgroup/a/cpu.max": "50000 100000", "sys/fs/cpu.max": "1000 100000", "cpu.max": "1000 100000",
		},
		want: Quota{50 * time.Millisecond, 100 * time.Millisecond},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for name, text := range tc.files {
				fsys[name] = &fstest.MapFile{Data: []byte(text)}
			}
			q, ok, err := find(fsys)
			require.NoError(t, err)
			assert.Equal(t, tc.want != Quota{}, ok)
			assert.Equal(t, tc.want, q)
		})
	}
}

func TestFindRefusesWhatIsNotAQuota(t *testing.T) {
	for _, text := range []string{"3000", "x 5000", "0 5000", "3000 -1"} {
		fsys := fstest.MapFS{
			"proc/self/cgroup":        {Data: []byte("0::/a\n")},
			"proc/self/mountinfo":     {Data: []byte(v2Mounts)},
			"sys/fs/cgroup/a/cpu.max": {Data: []byte(text)},
		}
		_, _, err := find(fsys)
		assert.ErrorContains(t, err, "sys/fs/cgroup/a/cpu.max", "cpu.max %q", text)
	}
	_, _, err := find(fstest.MapFS{})
	assert.ErrorContains(t, err, "the process's cgroups")
}

// On a hybrid host (v1 cpu and v2 "unified" both mounted), an unreadable
// v2 file is reported and the v1 quota still found.
func TestFindKeepsAQuotaBesideABadFile(t *testing.T) {
	fsys := fstest.MapFS{
		"proc/self/cgroup": {Data: []byte("0::/x\n" + v1Groups)},
		"proc/self/mountinfo": {Data: []byte(v1Mounts +
			"30 31 0:27 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n")},
		"sys/fs/cgroup/unified/x/cpu.max":              {Data: []byte("garbage")},
		"sys/fs/cgroup/cpu/bench.42/cpu.cfs_quota_us":  {Data: []byte("3000")},
		"sys/fs/cgroup/cpu/bench.42/cpu.cfs_period_us": {Data: []byte("5000")},
	}
	q, ok, err := find(fsys)
	assert.ErrorContains(t, err, "unified/x/cpu.max")
	assert.True(t, ok)
	assert.Equal(t, Quota{3 * time.Millisecond, 5 * time.Millisecond}, q)
}

func TestNewIsBusyFromHalfTheQuota(t *testing.T) {
	a := New(Quota{3 * time.Millisecond, 5 * time.Millisecond}, DefaultTick)
	assert.InDelta(t, 0.3, a.Busy, 1e-9)
	assert.Equal(t, 20*time.Millisecond, a.Window)
	assert.Equal(t, DefaultTick, a.Tick)
}

func TestQuotaString(t *testing.T) {
	assert.Equal(t, "0.6 of a core (3ms of every 5ms)", Quota{3 * time.Millisecond, 5 * time.Millisecond}.String())
}

// fakeProcess is the Accountant's world: a clock that sleeps move, and a
// process whose CPU use per wall-clock second the test sets.
type fakeProcess struct {
	wall, cpu time.Duration
	load      float64 // cores used
	yields    []time.Duration
	sleeps    int
	stopAfter int // sleeps before ctx counts as done
}

func (p *fakeProcess) accountant() *Accountant {
	return &Accountant{
		Tick: time.Millisecond, Window: 10 * time.Millisecond, Busy: 0.3,
		cpu: func() time.Duration { return p.cpu },
		now: func() time.Time { return time.Unix(0, 0).Add(p.wall) },
		sleep: func(_ context.Context, d time.Duration) bool {
			p.sleeps++
			if p.sleeps > p.stopAfter {
				return false
			}
			p.wall += d
			p.cpu += time.Duration(p.load * float64(d))
			return true
		},
		yield: func() { p.yields = append(p.yields, p.wall) },
	}
}

func TestAccountantYieldsEveryTickOnlyWhileBusy(t *testing.T) {
	// Idle: it looks once a window and never yields.
	p := &fakeProcess{load: 0.1, stopAfter: 50}
	p.accountant().Run(context.Background())
	assert.Empty(t, p.yields)
	assert.Equal(t, 500*time.Millisecond, p.wall, "one sleep per window")

	// Busy from the first window on: a yield every tick after it.
	p = &fakeProcess{load: 0.5, stopAfter: 21}
	p.accountant().Run(context.Background())
	want := []time.Duration{}
	for i := 1; i <= 20; i++ {
		want = append(want, 10*time.Millisecond+time.Duration(i)*time.Millisecond)
	}
	assert.Equal(t, want, p.yields)
}

func TestAccountantFollowsTheLoad(t *testing.T) {
	p := &fakeProcess{load: 0.5, stopAfter: 1000}
	a := p.accountant()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	inner := a.sleep
	a.sleep = func(ctx context.Context, d time.Duration) bool {
		switch p.wall {
		case 100 * time.Millisecond:
			p.load = 0.05 // the load goes
		case 200 * time.Millisecond:
			p.load = 1 // and comes back
		case 300 * time.Millisecond:
			return false
		}
		return inner(ctx, d)
	}
	a.Run(ctx)
	var busy, idle, back int
	for _, y := range p.yields {
		switch {
		case y <= 110*time.Millisecond:
			busy++
		case y <= 210*time.Millisecond:
			idle++
		default:
			back++
		}
	}
	assert.Equal(t, 100, busy, "a yield a tick from the end of the first window to the end of the first one without load")
	assert.Zero(t, idle, "none from the window that saw the load gone to the window that saw it back")
	assert.Equal(t, 90, back)
}

func TestRunEndsWithItsContext(t *testing.T) {
	a := New(Quota{3 * time.Millisecond, 5 * time.Millisecond}, DefaultTick)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	cancel()
	<-done
}

func TestFindReadsThisProcess(t *testing.T) {
	q, ok, err := Find()
	require.NoError(t, err)
	if ok {
		assert.Positive(t, q.Cores())
	}
}
