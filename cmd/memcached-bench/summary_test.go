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

	results, err := readResults(strings.NewReader(jsonLines(t, runs...) + "\n"))
	require.NoError(t, err)
	rps, err := medianRPS(results, labelOursGet)
	require.NoError(t, err)
	assert.Equal(t, 70_000.0, rps)

	var out bytes.Buffer
	require.NoError(t, writeMarkdown(&out, results))
	md := out.String()
	assert.Contains(t, md, "| ours-get | memcached | get:1, 64 conns | 3 | 70000 | 70000 | 0.250 | 1.000 | 2.000 | 0 | 41 % |")
	assert.Contains(t, md, "| ours-get-halfpeak | memcached | get:1, 64 conns, open model at 35000/s | 1 | 35000 | 35000 | 0.300 | 1.200 | 2.400 | 0 (+7 not sent in time) | 40 % |")
	assert.Contains(t, md, "| GET hit ÷ ceiling (requests/s) | 0.70× | ≥ 0.80× | no |")
	assert.Contains(t, md, "| ours-get-raw | memcached | get:1, 64 conns, octet-stream | 1 | 90000 |")
	assert.Contains(t, md, "| raw GET hit (octet-stream) ÷ ceiling (requests/s) | 0.90× | — | — |")
	assert.Contains(t, md, "| GET hit ÷ Webdis GET (requests/s) | 2.00× | ≥ 1.0× | yes |")
	assert.Contains(t, md, "| PUT set ÷ Webdis SET (requests/s) | not run | — | — |")
	assert.Contains(t, md, "| batchGet keys/s ÷ single-GET keys/s | 21.4× | ≥ 20× | yes |")
	assert.Contains(t, md, "| GET p99 at half of peak (open model) | 1.20 ms | ≤ 1.5 ms | yes |")
	assert.Less(t, strings.Index(md, "| ours-get |"), strings.Index(md, "| ceiling-get |"), "rows keep the order they were run in")
}

func TestMedianOfAnUnknownLabelFails(t *testing.T) {
	_, err := medianRPS(nil, "nope")
	assert.ErrorIs(t, err, errNoRuns)
}

func TestReadResultsNamesTheBadLine(t *testing.T) {
	_, err := readResults(strings.NewReader("{}\nnot json\n"))
	assert.ErrorContains(t, err, "line 2")
}
