// Command ogen runs the matrix scenario (see ../../README.md) through a client
// that ogen generated into ./api from api/openapi.yaml with no configuration.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"

	"github.com/go-faster/jx"
	"github.com/ogen-go/ogen/ogenerrors"

	"github.com/memcached-http/memcached-http/sdk-matrix/go/ogen/api"
)

const (
	weirdKey   = "a/b:c%d?e#f g é"
	counterKey = "hits:total"
	objectJSON = `{"name":"Ada","tags":["x",{"deep":true}],"n":null}`
)

// noAuth satisfies the bearer scheme's source by skipping it: the server runs
// without tokens, which the contract's empty security alternative allows.
type noAuth struct{}

func (noAuth) BearerAuth(context.Context, api.OperationName) (api.BearerAuth, error) {
	return api.BearerAuth{}, ogenerrors.ErrSkipClientSecurity
}

func main() {
	if err := run(os.Getenv("MATRIX_BASE_URL"), os.Getenv("MATRIX_NS")); err != nil {
		fmt.Fprintln(os.Stderr, "ogen scenario:", err)
		os.Exit(1)
	}
	fmt.Println("ogen scenario: ok")
}

func run(base, ns string) error {
	ctx := context.Background()
	c, err := api.NewClient(base, noAuth{})
	if err != nil {
		return err
	}
	set := func(key string, req *api.StoreRequest) (string, error) {
		res, err := c.Set(ctx, req, api.SetParams{Namespace: ns, Key: key})
		if err != nil {
			return "", fmt.Errorf("set %q: %w", key, err)
		}
		ok, isOK := res.(*api.StoreResultHeaders)
		if !isOK {
			return "", fmt.Errorf("set %q: answered %T %+v", key, res, res)
		}
		return string(ok.Response.Cas), nil
	}
	get := func(key string) (api.Item, error) {
		res, err := c.Get(ctx, api.GetParams{Namespace: ns, Key: key})
		if err != nil {
			return api.Item{}, fmt.Errorf("get %q: %w", key, err)
		}
		ok, isOK := res.(*api.ItemHeaders)
		if !isOK {
			return api.Item{}, fmt.Errorf("get %q: answered %T %+v", key, res, res)
		}
		return ok.Response, nil
	}
	roundTrip := func(key string, v api.Value, want string) error {
		if _, err := set(key, &api.StoreRequest{Value: v}); err != nil {
			return err
		}
		it, err := get(key)
		if err != nil {
			return err
		}
		return sameJSON(key, it.Value, want)
	}

	// A string, a number and a nested object, each read back as written.
	if err := roundTrip("string", api.NewStringValue("hello"), `"hello"`); err != nil {
		return err
	}
	if err := roundTrip("number", api.NewFloat64Value(42.5), `42.5`); err != nil {
		return err
	}
	var obj api.Value0
	if err := json.Unmarshal([]byte(objectJSON), &obj); err != nil {
		return err
	}
	if err := roundTrip("object", api.NewValue0Value(obj), objectJSON); err != nil {
		return err
	}

	// Bytes, as base64 with encoding base64.
	if _, err := set("bytes", &api.StoreRequest{Value: api.NewStringValue("AAEC//4="), Encoding: api.NewOptEncoding(api.EncodingBase64)}); err != nil {
		return err
	}
	it, err := get("bytes")
	if err != nil {
		return err
	}
	if it.Value.String != "AAEC//4=" || it.Encoding.Value != api.ItemEncodingBase64 {
		return fmt.Errorf("bytes: read back %+v", it)
	}

	// A key with reserved characters, found under exactly that key by batchGet.
	if err := roundTrip(weirdKey, api.NewStringValue("weird"), `"weird"`); err != nil {
		return err
	}
	if err := batchHas(ctx, c, ns, &api.BatchGetRequest{Keys: []string{weirdKey}}, map[string]string{weirdKey: `"weird"`}); err != nil {
		return err
	}

	// incr creates the counter from initial_value, decr subtracts.
	incr, err := c.Incr(ctx, api.NewOptOffsetRequest(api.OffsetRequest{Delta: api.NewOptUint64(5), InitialValue: api.NewOptNilUint64(10)}),
		api.IncrParams{Namespace: ns, Key: counterKey})
	if err != nil {
		return fmt.Errorf("incr: %w", err)
	}
	if r, ok := incr.(*api.OffsetResultHeaders); !ok || r.Response.Value != 15 {
		return fmt.Errorf("incr: answered %T %+v, want 15", incr, incr)
	}
	decr, err := c.Decr(ctx, api.NewOptOffsetRequest(api.OffsetRequest{Delta: api.NewOptUint64(3)}), api.DecrParams{Namespace: ns, Key: counterKey})
	if err != nil {
		return fmt.Errorf("decr: %w", err)
	}
	if r, ok := decr.(*api.OffsetResultHeaders); !ok || r.Response.Value != 12 {
		return fmt.Errorf("decr: answered %T %+v, want 12", decr, decr)
	}

	// batchGet with key_prefix: results keyed without the prefix, misses absent.
	for k, v := range map[string]string{"user:1": "one", "user:2": "two"} {
		if _, err := set(k, &api.StoreRequest{Value: api.NewStringValue(v)}); err != nil {
			return err
		}
	}
	if err := batchHas(ctx, c, ns, &api.BatchGetRequest{Keys: []string{"1", "2", "3"}, KeyPrefix: api.NewOptString("user:")},
		map[string]string{"1": `"one"`, "2": `"two"`}); err != nil {
		return err
	}

	// A cas with a stale token answers 412 and stores nothing.
	stale, err := set("cas", &api.StoreRequest{Value: api.NewStringValue("v1")})
	if err != nil {
		return err
	}
	if _, err := set("cas", &api.StoreRequest{Value: api.NewStringValue("v2")}); err != nil {
		return err
	}
	res, err := c.Set(ctx, &api.StoreRequest{Value: api.NewStringValue("v3"), Cas: api.NewOptCas(api.Cas(stale))},
		api.SetParams{Namespace: ns, Key: "cas", Mode: api.NewOptSetMode(api.SetModeCas)})
	if err != nil {
		return fmt.Errorf("stale cas: %w", err)
	}
	if _, ok := res.(*api.SetPreconditionFailed); !ok {
		return fmt.Errorf("stale cas: answered %T %+v, want 412", res, res)
	}
	it, err = get("cas")
	if err != nil {
		return err
	}
	return sameJSON("cas", it.Value, `"v2"`)
}

func batchHas(ctx context.Context, c *api.Client, ns string, req *api.BatchGetRequest, want map[string]string) error {
	res, err := c.GetMulti(ctx, req, api.GetMultiParams{Namespace: ns})
	if err != nil {
		return fmt.Errorf("batchGet: %w", err)
	}
	ok, isOK := res.(*api.BatchGetResultHeaders)
	if !isOK {
		return fmt.Errorf("batchGet: answered %T %+v", res, res)
	}
	if len(ok.Response.Items) != len(want) {
		return fmt.Errorf("batchGet %v: got %d items, want %d", req.Keys, len(ok.Response.Items), len(want))
	}
	for k, v := range want {
		it, found := ok.Response.Items[k]
		if !found {
			return fmt.Errorf("batchGet: %q missing", k)
		}
		if err := sameJSON(k, it.Value, v); err != nil {
			return err
		}
	}
	return nil
}

// sameJSON compares a value with the JSON it should encode as.
func sameJSON(key string, v api.Value, want string) error {
	e := jx.Encoder{}
	v.Encode(&e)
	var got, exp any
	if err := json.Unmarshal(e.Bytes(), &got); err != nil {
		return fmt.Errorf("%q: %w", key, err)
	}
	if err := json.Unmarshal([]byte(want), &exp); err != nil {
		return err
	}
	if !reflect.DeepEqual(got, exp) {
		return fmt.Errorf("%q: read back %s, want %s", key, e.Bytes(), want)
	}
	return nil
}
