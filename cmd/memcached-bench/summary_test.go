package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// jsonLines renders runs as run.sh collects them.
func jsonLines(t *testing.T, runs ...result) string {
	t.Helper()
	var sb strings.Builder
	for _, r := range runs {
		line, err := json.Marshal(r)
		require.NoError(t, err)
		sb.Write(line)
		sb.WriteByte('\n')
	}
	return sb.String()
}

func run3(label string, target targetKind, mixSpec string, rps []float64, keysPerReq float64, p99us []float64) []result {
	out := make([]result, len(rps))
	for i := range rps {
		out[i] = result{
			Label: label, Target: target, Mix: mixSpec, Model: "closed", Conns: 64,
			RequestsPS: rps[i], KeysPS: rps[i] * keysPerReq, ClientCPU: 40 + float64(i),
			Latency: latencyMicros{P50: p99us[i] / 4, P99: p99us[i], P999: p99us[i] * 2},
		}
	}
	return out
}

func TestMedianTakesTheMiddleRun(t *testing.T) {
	tests := []struct {
		name string
		xs   []float64
		want float64
	}{
		{"one run", []float64{5}, 5},
		{"three runs in any order", []float64{9, 1, 4}, 4},
		{"an even count takes the lower middle, a measured value", []float64{4, 1, 3, 2}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			xs := append([]float64(nil), tt.xs...)
			assert.Equal(t, tt.want, median(xs))
			assert.Equal(t, tt.xs, xs, "the caller's slice stays in its order")
		})
	}
}

func TestSummaryReportsMediansAndRatios(t *testing.T) {
	var runs []result
	runs = append(runs, run3(labelOursGet, targetMemcached, "get:1", []float64{80_000, 60_000, 70_000}, 1, []float64{900, 1100, 1000})...)
	runs = append(runs, run3(labelCeilingGet, targetFixed, "get:1", []float64{100_000, 100_000, 100_000}, 1, []float64{500, 500, 500})...)
	runs = append(runs, run3(labelWebdisGet, targetWebdis, "get:1", []float64{35_000, 35_000, 35_000}, 1, []float64{2000, 2000, 2000})...)
	runs = append(runs, run3(labelOursBatchGet, targetMemcached, "batchget:1", []float64{15_000, 14_000, 16_000}, 100, []float64{3000, 3000, 3000})...)
	raw := run3(labelOursGetRaw, targetMemcached, "get:1", []float64{90_000}, 1, []float64{800})
	raw[0].Raw = true
	runs = append(runs, raw...)
	half := run3(labelOursGetHalf, targetMemcached, "get:1", []float64{35_000}, 1, []float64{1_200})
	half[0].Model, half[0].Rate, half[0].Dropped = "open", 35_000, 7
	runs = append(runs, half...)
	webdisHalf := run3(labelWebdisGetHalf, targetWebdis, "get:1", []float64{35_000}, 1, []float64{2_400})
	webdisHalf[0].Model, webdisHalf[0].Rate = "open", 35_000
	runs = append(runs, webdisHalf...)

	results, err := readResults(strings.NewReader(jsonLines(t, runs...) + "\n"))
	require.NoError(t, err)
	rps, err := medianRPS(results, labelOursGet)
	require.NoError(t, err)
	assert.Equal(t, 70_000.0, rps)

	var out bytes.Buffer
	require.NoError(t, writeMarkdown(&out, results))
	md := out.String()
	assert.Contains(t, md, "| ours-get | memcached-bench | memcached | get:1, 64 conns | 3 | 70000 | 70000 | 0.250 | 1.000 | 2.000 | 0 | 41 % |")
	assert.Contains(t, md, "| ours-get-halfpeak | memcached-bench | memcached | get:1, 64 conns, open model at 35000/s | 1 | 35000 | 35000 | 0.300 | 1.200 | 2.400 | 0 (+7 not sent in time) | 40 % |")
	// Per-round ratios: 80k/100k, 60k/100k, 70k/100k.
	assert.Contains(t, md, "| GET hit ÷ ceiling (requests/s) | 0.70× | 0.60× – 0.80× | ≥ 0.85× | no |")
	assert.Contains(t, md, "| ours-get-raw | memcached-bench | memcached | get:1, 64 conns, octet-stream | 1 | 90000 |")
	// One raw run against three ceiling runs: the ratio of medians.
	assert.Contains(t, md, "| raw GET hit (octet-stream) ÷ ceiling (requests/s) | 0.90× |  | — | — |")
	assert.Contains(t, md, "| GET hit ÷ Webdis GET (requests/s) | 2.00× | 1.71× – 2.29× | ≥ 1.2× | yes |")
	assert.Contains(t, md, "| GET p99 ÷ Webdis GET p99 | 0.50× | 0.45× – 0.55× | ≤ 1.0× | yes |")
	assert.Contains(t, md, "| PUT set ÷ Webdis SET (requests/s) | not run |  | ≥ 1.0× | — |")
	// Rounds: 1.5M/80k, 1.4M/60k, 1.6M/70k.
	assert.Contains(t, md, "| batchGet keys/s ÷ single-GET keys/s | 22.9× | 18.8× – 23.3× | ≥ 20× | yes |")
	assert.Contains(t, md, "| GET p99 at half of peak (open model) | 1.20 ms |  | ≤ 1.5 ms | yes |")
	// The same offered load to both: 1.2 ms against Webdis's 2.4 ms.
	assert.Contains(t, md, "| GET p99 ÷ Webdis GET p99, one offered load (open model) | 0.50× |  | — | — |")
	assert.Contains(t, md, "| PUT set p99 ÷ Webdis SET p99, one offered load (open model) | not run |  | — | — |")
	assert.Less(t, strings.Index(md, "| ours-get |"), strings.Index(md, "| ceiling-get |"), "rows keep the order they were run in")
}

func TestClientBoundRowsAreMarkedAndNotUsed(t *testing.T) {
	var runs []result
	ours := run3(labelOursSet, targetMemcached, "set:1", []float64{50_000, 50_000, 50_000}, 1, []float64{900, 900, 900})
	webdis := run3(labelWebdisSet, targetWebdis, "set:1", []float64{40_000, 40_000, 40_000}, 1, []float64{900, 900, 900})
	for i := range webdis {
		webdis[i].Generator = "wrk"
		webdis[i].ClientCPU = 75 + float64(i) // median 76 %: over the 70 % line
	}
	incr := run3(labelOursIncr, targetMemcached, "incr:1", []float64{40_000, 40_000, 40_000}, 1, []float64{900, 900, 900})
	webdisIncr := run3(labelWebdisIncr, targetWebdis, "incr:1", []float64{40_000, 40_000, 40_000}, 1, []float64{900, 900, 900})
	for i := range incr {
		incr[i].ClientCPU = 70 // at the line, not over it
		incr[i].Dist = "zipf"
	}
	runs = append(append(append(append(runs, ours...), webdis...), incr...), webdisIncr...)

	var out bytes.Buffer
	require.NoError(t, writeMarkdown(&out, runs))
	md := out.String()
	assert.Contains(t, md, "| webdis-set | wrk | webdis | set:1, 64 conns | 3 | 40000 | 40000 | 0.225 | 0.900 | 1.800 | 0 | 76 % **client-bound** |")
	assert.Contains(t, md, "| PUT set ÷ Webdis SET (requests/s) | not used: webdis-set is client-bound |  | ≥ 1.0× | — |")
	assert.Contains(t, md, "| PUT set p99 ÷ Webdis SET p99 | not used: webdis-set is client-bound |  | ≤ 1.0× | — |")
	assert.Contains(t, md, "| ours-incr | memcached-bench | memcached | incr:1, 64 conns, zipf keys | 3 | 40000 | 40000 | 0.225 | 0.900 | 1.800 | 0 | 70 % |")
	assert.Contains(t, md, "| incr ÷ Webdis INCR (requests/s) | 1.00× |  | ≥ 1.0× | yes |")
}

func TestMedianOfAnUnknownLabelFails(t *testing.T) {
	_, err := medianRPS(nil, "nope")
	assert.ErrorIs(t, err, errNoRuns)
}

func TestReadResultsNamesTheBadLine(t *testing.T) {
	_, err := readResults(strings.NewReader("{}\nnot json\n"))
	assert.ErrorContains(t, err, "line 2")
}

func TestServerCPURatiosAreTheInverseOfCPUPerRequest(t *testing.T) {
	ours := run3(labelOursGet, targetMemcached, "get:1", []float64{20_000, 10_000, 21_000}, 1, []float64{900, 900, 900})
	ceiling := run3(labelCeilingGet, targetFixed, "get:1", []float64{30_000, 30_000, 30_000}, 1, []float64{500, 500, 500})
	webdis := run3(labelWebdisGet, targetWebdis, "get:1", []float64{25_000, 25_000, 25_000}, 1, []float64{900, 900, 900})
	// Round 2 lost half its throughput to other work on the core, not its CPU per request.
	for i, us := range []float64{30, 31, 28} {
		ours[i].ServerCPU = us
		ceiling[i].ServerCPU = 20
	}
	var runs []result
	runs = append(append(append(runs, ours...), ceiling...), webdis...)
	results, err := readResults(strings.NewReader(jsonLines(t, runs...)))
	require.NoError(t, err)

	var out bytes.Buffer
	require.NoError(t, writeMarkdown(&out, results))
	md := out.String()
	assert.Contains(t, md, "| 0 | 41 % | 30.0 |", "the ours-get row shows its median server CPU per request")
	assert.Contains(t, md, "| webdis-get | memcached-bench | webdis | get:1, 64 conns | 3 | 25000 | 25000 | 0.225 | 0.900 | 1.800 | 0 | 41 % | — |")
	// Per round: 20/30, 20/31, 20/28.
	assert.Contains(t, md, "| GET hit ÷ ceiling (requests per server CPU-second) | 0.67× | 0.65× – 0.71× | — | — |")
	assert.Contains(t, md, "| GET hit ÷ ceiling (requests/s) | 0.67× | 0.33× – 0.70× | ≥ 0.85× | no |")
	assert.Contains(t, md, "| GET hit ÷ Webdis GET (requests per server CPU-second) | not measured |  | — | — |")
}

func TestRowsShowTheCapsPauses(t *testing.T) {
	ours := run3(labelOursGet, targetMemcached, "get:1", []float64{20_000, 20_000, 20_000}, 1, []float64{900, 900, 900})
	for i, ms := range []float64{2.1, 2.0, 2.4} {
		ours[i].CapPauses, ours[i].CapPauseMS = 180+float64(i)*10, ms
	}
	webdis := run3(labelWebdisGet, targetWebdis, "get:1", []float64{25_000, 25_000, 25_000}, 1, []float64{900, 900, 900})
	results, err := readResults(strings.NewReader(jsonLines(t, append(ours, webdis...)...)))
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, writeMarkdown(&out, results))
	md := out.String()
	assert.Contains(t, md, "| cap's pauses |")
	assert.Contains(t, md, "| 0 | 41 % | — | 190/s of 2.10 ms |", "the medians of the pauses per second and of their mean length")
	assert.Contains(t, md, "| 0 | 41 % | — | — |", "a row run without the cap")
}
