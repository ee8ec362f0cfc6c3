package memcached_test

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/memcached-http/memcached-http/internal/memcached"
)

// casNormalizer renames one server's CAS ids by order of first appearance,
// so two servers whose counters differ can be compared; it also remembers
// the last id seen, which a step can send back as {cas}.
type casNormalizer struct {
	ids  map[string]string
	last string
}

var (
	metaTTL  = regexp.MustCompile(`(?m)^((?:VA \d+|HD|NS|EX|NF)(?: \S+)*? t)(\d+)`)
	valueCAS = regexp.MustCompile(`(?m)^(VALUE \S+ \d+ \d+ )(\d+)(\r)$`)
	metaCAS  = regexp.MustCompile(`(?m)^((?:VA \d+|HD|NS|EX|NF)(?: \S+)*? c)(\d+)`)
)

func (n *casNormalizer) normalize(s string) string {
	if n.ids == nil {
		n.ids = map[string]string{}
	}
	rename := func(id string) string {
		n.last = id
		if v, ok := n.ids[id]; ok {
			return v
		}
		v := "#" + strconv.Itoa(len(n.ids)+1)
		n.ids[id] = v
		return v
	}
	s = valueCAS.ReplaceAllStringFunc(s, func(m string) string {
		g := valueCAS.FindStringSubmatch(m)
		return g[1] + rename(g[2]) + g[3]
	})
	s = metaCAS.ReplaceAllStringFunc(s, func(m string) string {
		g := metaCAS.FindStringSubmatch(m)
		return g[1] + rename(g[2])
	})
	// A TTL read just after a second turns over is one less on either
	// server; the steps use TTLs that are multiples of 10, so rounding to
	// the nearest 10 keeps what is compared and drops the race.
	return metaTTL.ReplaceAllStringFunc(s, func(m string) string {
		g := metaTTL.FindStringSubmatch(m)
		n, _ := strconv.Atoi(g[2])
		return g[1] + strconv.Itoa((n+5)/10*10)
	})
}

// diffSteps are sent one at a time to memcached and to the listener, each
// followed by mn; the answers must be the same, CAS ids renamed. {cas} is
// the last CAS id the same server sent.
var diffSteps = map[string][]string{
	"storage": {
		"set a 5 0 3\r\nabc\r\n", "get a\r\n", "gets a\r\n",
		"add a 0 0 1\r\nx\r\n", "add b 7 0 2\r\nbb\r\n", "get a b\r\n",
		"replace c 0 0 1\r\nx\r\n", "replace a 9 0 2\r\nzz\r\n", "get a\r\n",
		"append a 0 0 3\r\n-ap\r\n", "prepend a 0 0 3\r\npr-\r\n", "gets a\r\n",
		"append none 0 0 1\r\nx\r\n", "prepend none 0 0 1\r\nx\r\n",
		"set empty 0 0 0\r\n\r\n", "get empty\r\n",
		"set bin 0 0 6\r\n\x00\r\n\xff\r\n\r\n", "get bin\r\n",
		"set 4294967295 4294967295 0 1\r\nf\r\n", "get 4294967295\r\n",
		"get a a b none a\r\n",
		"set q 0 0 1 noreply\r\nq\r\n", "get q\r\n",
		"add q 0 0 1 noreply\r\nq\r\n", "delete q noreply\r\n", "get q\r\n",
	},
	"cas": {
		"cas none 0 0 1 1\r\nx\r\n",
		"set k 0 0 1\r\nv\r\n", "gets k\r\n",
		"cas k 0 0 2 999999999\r\nv2\r\n",
		"cas k 3 0 2 {cas}\r\nv3\r\n", "gets k\r\n",
		"cas k 0 0 2 {cas} noreply\r\nv4\r\n", "gets k\r\n",
	},
	"delete": {
		"delete nope\r\n", "set d 0 0 1\r\nx\r\n", "delete d\r\n", "get d\r\n",
		"set d 0 0 1\r\nx\r\n", "delete d 0\r\n", "delete d 10\r\n", "delete d 0 noreply\r\n", "delete\r\n",
	},
	"incr and decr": {
		"incr n 1\r\n", "set n 0 0 2\r\n10\r\n", "incr n 5\r\n", "decr n 100\r\n", "incr n 0\r\n",
		"set n 0 0 20\r\n18446744073709551615\r\n", "incr n 2\r\n", "incr n 0\r\n",
		"incr n -1\r\n", "incr n abc\r\n", "incr n 18446744073709551616\r\n",
		"set s 0 0 3\r\nabc\r\n", "incr s 1\r\n", "decr s 1\r\n",
		"set n 0 0 1\r\n7\r\n", "incr n 3 noreply\r\n", "get n\r\n", "incr n\r\n",
	},
	"touch and gat": {
		"touch none 10\r\n", "set t 1 0 1\r\nx\r\n", "touch t 100\r\n", "touch t abc\r\n",
		"gat 100 t none\r\n", "gats 100 t\r\n", "gat abc t\r\n", "gat 100\r\n",
		"touch t -1\r\n", "get t\r\n",
	},
	"expiry": {
		"set e 0 -1 1\r\nx\r\n", "get e\r\n",
		"set e 0 1000000000 1\r\nx\r\n", "get e\r\n",
		"set e 0 100 1\r\nx\r\n", "gat -1 e\r\n", "get e\r\n",
	},
	"bad input": {
		"bogus\r\n", "GET a\r\n", "\r\n",
		"set k 0 0\r\n", "set k abc 0 1\r\nx\r\n", "set k 0 0 -1\r\n",
		"set k 0 0 1\r\nxyz\r\n", "get k\r\n",
		"set \x10\x10ctl\x7f\tkey 0 0 1\r\nc\r\n", "get \x10\x10ctl\x7f\tkey\r\n",
		"set " + strings.Repeat("k", 251) + " 0 0 1\r\nx\r\n",
		"get " + strings.Repeat("k", 251) + "\r\n",
		"set " + strings.Repeat("k", 250) + " 0 0 1\r\nx\r\n", "get " + strings.Repeat("k", 250) + "\r\n",
		"get\r\n", "gets\r\n",
		"incr " + strings.Repeat("k", 251) + " 1\r\n", "delete " + strings.Repeat("k", 251) + "\r\n",
		"set a 0 0 1\r\nx\r\n", "get a " + strings.Repeat("k", 251) + "\r\n", "gets a b " + strings.Repeat("k", 251) + "\r\n",
		"gat 0 a " + strings.Repeat("k", 251) + "\r\n", "get a\r\n",
	},
	"too large": {
		"set big 0 0 1\r\nx\r\n",
		"set big 0 0 2000000\r\n" + strings.Repeat("x", 2000000) + "\r\n",
		"get big\r\n", "set ok 0 0 2\r\nok\r\n", "get ok\r\n",
	},
	"other commands": {
		"verbosity 1\r\n", "verbosity 1 noreply\r\n", "verbosity\r\n", "verbosity foo bar my\r\n",
		"verbosity noreply\r\n", "verbosity abc\r\n",
		"flush_all\r\n", "flush_all noreply\r\n", "flush_all 0\r\n", "flush_all abc\r\n",
		"set f 0 0 1\r\nx\r\n", "flush_all\r\n", "get f\r\n",
		"shutdown\r\n", "cache_memlimit 4\r\n", "cache_memlimit abc\r\n",
		"stats bogus\r\n", "stats sizes\r\n", "stats detail dump\r\n",
		"stats cachedump 1\r\n", "stats cachedump x 1\r\n",
	},
	"meta get": {
		"mg none v\r\n", "mg none v q\r\n", "mg none v k O123\r\n",
		"ms m 3 T0 F5\r\nabc\r\n", "mg m\r\n", "mg m v\r\n", "mg m s v f t c k O99\r\n",
		"mg m k b\r\n", "mg m v q\r\n", "mg m v C{cas}\r\n", "mg m v C999999999\r\n",
		"mg m h l t\r\n", "mg m h\r\n", "mg m T30 t\r\n", "mg m t v\r\n",
		"mg m v O" + strings.Repeat("o", 33) + "\r\n", "mg m v v\r\n", "mg m Tabc\r\n",
		"mg " + strings.Repeat("k", 251) + " v\r\n", "mg\r\n",
		"mg bWJhc2U2NA== b v k\r\n", "ms bWJhc2U2NA== 2 b\r\nhi\r\n", "mg bWJhc2U2NA== b v k\r\n", "get mbase64\r\n",
	},
	"meta stampede": {
		"mg s v N30 t c\r\n", "mg s v N30 t c\r\n", "mg s v c\r\n",
		"ms s 2 T60\r\nhi\r\n", "mg s v t\r\n",
		"md s I T30\r\n", "mg s v c t\r\n", "mg s v c t\r\n", "ms s 3 T60\r\nnew\r\n", "mg s v\r\n",
		"ms r 1 T10\r\nx\r\n", "mg r v R5 t\r\n", "mg r v R30 t\r\n", "mg r v R30\r\n", "mg r v\r\n",
		"md none I\r\n",
	},
	"meta set": {
		"ms k 2\r\nhi\r\n", "ms k 2 c\r\nhi\r\n", "mg k v c f\r\n",
		"ms k 2 MS F3 T0 k O1\r\nab\r\n", "mg k v f\r\n",
		"ms k 2 ME\r\nzz\r\n", "ms n 2 ME\r\nzz\r\n", "ms k 2 MR\r\nrr\r\n", "ms none 2 MR\r\nrr\r\n",
		"ms k 2 MA\r\n-a\r\n", "ms k 2 MP\r\np-\r\n", "mg k v\r\n", "ms none 2 MA\r\nxx\r\n",
		"ms k 2 q\r\nqq\r\n", "ms k 2 q ME\r\nqq\r\n", "mg k v\r\n",
		"mg k c\r\n", "ms k 2 C{cas}\r\ncc\r\n", "ms k 2 C999999999\r\ncc\r\n", "ms gone 2 C5\r\ncc\r\n",
		"ms k 2 MX\r\nxx\r\n", "ms k abc\r\n", "ms k 2 Fabc\r\nxx\r\n",
		"ms k 2\r\nabcd\r\n", "mg k v\r\n",
		"ms big 2000000\r\n" + strings.Repeat("b", 2000000) + "\r\n", "mg big v\r\n",
	},
	"meta delete": {
		"md none\r\n", "md none q\r\n", "ms d 1\r\nx\r\n", "md d q\r\n", "mg d v\r\n",
		"ms d 1\r\nx\r\n", "md d k O5\r\n", "ms d 1\r\nx\r\n", "mg d c\r\n", "md d C999999999\r\n", "md d C{cas}\r\n", "mg d\r\n",
		"ms d 3\r\nabc\r\n", "md d I\r\n", "mg d v c\r\n", "mg d v\r\n",
	},
	"meta size without the value": {
		"set foo 5 0 3\r\nbar\r\n", "mg foo s\r\n", "mg foo s f k\r\n", "mg foo s q\r\n",
		"append foo 0 0 2\r\nxy\r\n", "mg foo s\r\n", "mg foo s v\r\n",
		"set big 0 0 10000\r\n" + strings.Repeat("z", 10000) + "\r\n", "mg big s\r\n", "mg none s\r\n",
	},
	"meta flags memcached does not know": {
		"set k 0 0 1\r\n5\r\n",
		"mg k y\r\n", "mg k v y\r\n", "mg k a\r\n", "mg k S\r\n", "mg k 1\r\n", "mg k I L P\r\n",
		"ms k 1 a\r\n7\r\n", "ms k 1 noreply\r\n7\r\n", "ms k 1 v f t\r\n7\r\n", "mg k v\r\n",
		"md k y\r\n", "ma k y\r\n", "ma k f s\r\n", "mg k v\r\n",
		"ms k 1 Ms\r\n8\r\n", "ms k 1 Ma\r\n8\r\n", "ms k 1 MS\r\n8\r\n", "ma k Mi\r\n", "ma k Md\r\n", "ma k MI v\r\n", "ma k MD v\r\n",
		"me none y\r\n", "mn x\r\n",
	},
	"meta arithmetic": {
		"ma none\r\n", "ma none q\r\n", "ma none N0 J5 v\r\n", "ma none v\r\n", "ma none MD D3 v\r\n",
		"ma none M- D100 v\r\n", "ma none M+ D7 v t\r\n", "ma none q D1\r\n", "mg none v\r\n",
		"ms s 3\r\nabc\r\n", "ma s\r\n", "ma none Dabc\r\n", "ma none MX\r\n",
		"ma none c\r\n", "ma none C999999999\r\n", "ma none k O7 v\r\n",
		"ms n 20\r\n18446744073709551615\r\n", "ma n v\r\n",
	},
}

// TestDifferentialAgainstMemcached runs every step against memcached 1.6
// itself and against the listener: the two must answer byte for byte alike.
func TestDifferentialAgainstMemcached(t *testing.T) {
	mc := startMemcached(t)
	ours, _ := startServer(t, memcached.Config{})
	for name, steps := range diffSteps {
		t.Run(name, func(t *testing.T) {
			theirs, mine := dial(t, mc), dial(t, ours)
			theirs.do("flush_all\r\n")
			mine.do("flush_all\r\n")
			var nTheirs, nMine casNormalizer
			for _, step := range steps {
				want := nTheirs.normalize(theirs.do(strings.ReplaceAll(step, "{cas}", nTheirs.last)))
				got := nMine.normalize(mine.do(strings.ReplaceAll(step, "{cas}", nMine.last)))
				assert.Equal(t, want, got, "step %q", abbreviate(step))
			}
		})
	}
}

func abbreviate(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
