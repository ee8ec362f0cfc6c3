// Command oapi runs the matrix scenario (see ../../README.md) through a client
// that oapi-codegen generated into ./client from api/openapi.yaml (cfg.yaml:
// models and client, nothing else).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"reflect"

	"github.com/memcached-http/memcached-http/sdk-matrix/go/oapi/client"
)

const (
	weirdKey   = "a/b:c%d?e#f g é"
	counterKey = "hits:total"
	objectJSON = `{"name":"Ada","tags":["x",{"deep":true}],"n":null}`
)

func main() {
	if err := run(os.Getenv("MATRIX_BASE_URL"), os.Getenv("MATRIX_NS")); err != nil {
		fmt.Fprintln(os.Stderr, "oapi-codegen scenario:", err)
		os.Exit(1)
	}
	fmt.Println("oapi-codegen scenario: ok")
}

func ptr[T any](v T) *T { return &v }

func run(base, ns string) error {
	ctx := context.Background()
	c, err := client.NewClientWithResponses(base)
	if err != nil {
		return err
	}
	set := func(key string, body client.StoreRequest) (string, error) {
		res, err := c.SetWithResponse(ctx, ns, key, nil, body)
		if err != nil {
			return "", fmt.Errorf("set %q: %w", key, err)
		}
		if res.JSON200 == nil {
			return "", fmt.Errorf("set %q: answered %d %s", key, res.StatusCode(), res.Body)
		}
		return res.JSON200.Cas, nil
	}
	get := func(key string) (*client.Item, error) {
		res, err := c.GetWithResponse(ctx, ns, key, nil)
		if err != nil {
			return nil, fmt.Errorf("get %q: %w", key, err)
		}
		if res.JSON200 == nil {
			return nil, fmt.Errorf("get %q: answered %d %s", key, res.StatusCode(), res.Body)
		}
		return res.JSON200, nil
	}
	roundTrip := func(key, value string) error {
		if _, err := set(key, client.StoreRequest{Value: json.RawMessage(value)}); err != nil {
			return err
		}
		it, err := get(key)
		if err != nil {
			return err
		}
		return sameJSON(key, it.Value, value)
	}

	// A string, a number and a nested object, each read back as written.
	for key, value := range map[string]string{"string": `"hello"`, "number": `42.5`, "object": objectJSON} {
		if err := roundTrip(key, value); err != nil {
			return err
		}
	}

	// Bytes, as base64 with encoding base64.
	if _, err := set("bytes", client.StoreRequest{Value: json.RawMessage(`"AAEC//4="`), Encoding: ptr(client.EncodingBase64)}); err != nil {
		return err
	}
	it, err := get("bytes")
	if err != nil {
		return err
	}
	if err := sameJSON("bytes", it.Value, `"AAEC//4="`); err != nil || it.Encoding == nil || *it.Encoding != client.ItemEncodingBase64 {
		return fmt.Errorf("bytes: read back %s (%v)", it.Value, err)
	}

	// A key with reserved characters, found under exactly that key by batchGet.
	if err := roundTrip(weirdKey, `"weird"`); err != nil {
		return err
	}
	if err := batchHas(ctx, c, ns, client.BatchGetRequest{Keys: []string{weirdKey}}, map[string]string{weirdKey: `"weird"`}); err != nil {
		return err
	}

	// incr creates the counter from initial_value, decr subtracts.
	incr, err := c.IncrWithResponse(ctx, ns, counterKey, client.OffsetRequest{Delta: ptr[uint64](5), InitialValue: ptr[uint64](10)})
	if err != nil {
		return fmt.Errorf("incr: %w", err)
	}
	if incr.JSON200 == nil || incr.JSON200.Value != 15 {
		return fmt.Errorf("incr: answered %d %s, want 15", incr.StatusCode(), incr.Body)
	}
	decr, err := c.DecrWithResponse(ctx, ns, counterKey, client.OffsetRequest{Delta: ptr[uint64](3)})
	if err != nil {
		return fmt.Errorf("decr: %w", err)
	}
	if decr.JSON200 == nil || decr.JSON200.Value != 12 {
		return fmt.Errorf("decr: answered %d %s, want 12", decr.StatusCode(), decr.Body)
	}

	// batchGet with key_prefix: results keyed without the prefix, misses absent.
	for k, v := range map[string]string{"user:1": `"one"`, "user:2": `"two"`} {
		if _, err := set(k, client.StoreRequest{Value: json.RawMessage(v)}); err != nil {
			return err
		}
	}
	if err := batchHas(ctx, c, ns, client.BatchGetRequest{Keys: []string{"1", "2", "3"}, KeyPrefix: ptr("user:")},
		map[string]string{"1": `"one"`, "2": `"two"`}); err != nil {
		return err
	}

	// A cas with a stale token answers 412 and stores nothing.
	stale, err := set("cas", client.StoreRequest{Value: json.RawMessage(`"v1"`)})
	if err != nil {
		return err
	}
	if _, err := set("cas", client.StoreRequest{Value: json.RawMessage(`"v2"`)}); err != nil {
		return err
	}
	res, err := c.SetWithResponse(ctx, ns, "cas", &client.SetParams{Mode: ptr(client.SetParamsModeCas)},
		client.StoreRequest{Value: json.RawMessage(`"v3"`), Cas: &stale})
	if err != nil {
		return fmt.Errorf("stale cas: %w", err)
	}
	if res.StatusCode() != http.StatusPreconditionFailed || res.JSON412 == nil {
		return fmt.Errorf("stale cas: answered %d %s, want 412", res.StatusCode(), res.Body)
	}
	it, err = get("cas")
	if err != nil {
		return err
	}
	return sameJSON("cas", it.Value, `"v2"`)
}

func batchHas(ctx context.Context, c *client.ClientWithResponses, ns string, req client.BatchGetRequest, want map[string]string) error {
	res, err := c.GetMultiWithResponse(ctx, ns, req)
	if err != nil {
		return fmt.Errorf("batchGet: %w", err)
	}
	if res.JSON200 == nil {
		return fmt.Errorf("batchGet: answered %d %s", res.StatusCode(), res.Body)
	}
	if len(res.JSON200.Items) != len(want) {
		return fmt.Errorf("batchGet %v: got %d items, want %d", req.Keys, len(res.JSON200.Items), len(want))
	}
	for k, v := range want {
		it, found := res.JSON200.Items[k]
		if !found {
			return fmt.Errorf("batchGet: %q missing", k)
		}
		if err := sameJSON(k, it.Value, v); err != nil {
			return err
		}
	}
	return nil
}

// sameJSON compares a value with the JSON it should be.
func sameJSON(key string, got json.RawMessage, want string) error {
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		return fmt.Errorf("%q: %w", key, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		return err
	}
	if !reflect.DeepEqual(g, w) {
		return fmt.Errorf("%q: read back %s, want %s", key, got, want)
	}
	return nil
}
