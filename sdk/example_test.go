package sdk_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"time"

	"github.com/memcached-http/memcached-http/sdk"
)

// exampleServer starts a memcached-http server (the binary TestMain built)
// and returns its URL and a stop function; a real program points New at a
// running memcached-http instead. The server listens on port 0 and is
// found at the address it logs as "listening", so no other process can
// take its port first; of its log lines, only those above info (warnings
// and errors) are passed on to the test's stderr.
func exampleServer() (string, func()) {
	srv := exec.Command(serverBinary, "-addr", "127.0.0.1:0")
	stderr, err := srv.StderrPipe()
	if err != nil {
		panic(err)
	}
	if err := srv.Start(); err != nil {
		panic(err)
	}
	addrs := make(chan string, 1)
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var entry struct{ Level, Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &entry) != nil {
				fmt.Fprintln(os.Stderr, sc.Text())
				continue
			}
			switch {
			case entry.Msg == "listening":
				addrs <- entry.Addr
			case entry.Level != "INFO" && entry.Level != "DEBUG":
				fmt.Fprintln(os.Stderr, sc.Text())
			}
		}
	}()
	// Wait may close the pipe only once the copier has read it to the end.
	stop := func() { _ = srv.Process.Kill(); <-copied; _ = srv.Wait() }
	var addr string
	select {
	case addr = <-addrs:
	case <-copied:
		stop()
		panic("memcached-http exited before listening")
	case <-time.After(60 * time.Second):
		stop()
		panic("memcached-http did not start within 60 s")
	}
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			return "http://" + addr, stop
		}
	}
	stop()
	panic("memcached-http did not serve on " + addr)
}

func Example() {
	url, stop := exampleServer()
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	c, err := sdk.New(url)
	if err != nil {
		panic(err)
	}
	c.Set(ctx, "greeting", "hello", sdk.WithExpiration(time.Minute))

	var greeting string
	if found, _ := c.Get(ctx, "greeting", &greeting); found {
		fmt.Println(greeting)
	}
	if _, err := c.Get(ctx, "absent", &greeting); errors.Is(err, sdk.ErrCacheMiss) {
		fmt.Println("miss")
	}
	// Output:
	// hello
	// miss
}

// App Engine's CAS example: two clients fetch with Gets; the first CAS wins,
// the second gets false.
func ExampleClient_CAS() {
	url, stop := exampleServer()
	defer stop()
	ctx := context.Background()
	first, _ := sdk.New(url)
	second, _ := sdk.New(url)
	first.Set(ctx, "counter", 0)

	var a, b int
	first.Gets(ctx, "counter", &a)
	second.Gets(ctx, "counter", &b)

	ok, _ := first.CAS(ctx, "counter", a+1)
	fmt.Println("first:", ok)
	ok, err := second.CAS(ctx, "counter", b+1)
	fmt.Println("second:", ok, errors.Is(err, sdk.ErrCASConflict))
	// Output:
	// first: true
	// second: false true
}

func ExampleClient_GetMulti() {
	url, stop := exampleServer()
	defer stop()
	ctx := context.Background()
	c, _ := sdk.New(url)

	c.SetMulti(ctx, map[string]any{"42": "Ada", "43": 1815}, sdk.WithKeyPrefix("user:"))
	users, _ := c.GetMulti(ctx, []string{"42", "43", "44"}, sdk.WithKeyPrefix("user:"))
	fmt.Println(users)
	fmt.Printf("%T %T\n", users["42"], users["43"])
	// Output:
	// map[42:Ada 43:1815]
	// string int
}

func ExampleClient_AddMulti() {
	url, stop := exampleServer()
	defer stop()
	ctx := context.Background()
	c, _ := sdk.New(url)

	c.Set(ctx, "a", 1)
	notAdded, _ := c.AddMulti(ctx, map[string]int{"a": 10, "b": 20})
	fmt.Println(notAdded)
	// Output: [a]
}

func ExampleClient_Incr() {
	url, stop := exampleServer()
	defer stop()
	ctx := context.Background()
	c, _ := sdk.New(url)

	n, _ := c.Incr(ctx, "hits", 1, sdk.WithInitialValue(0))
	fmt.Println(n)
	n, _ = c.Incr(ctx, "hits", 10)
	fmt.Println(n)
	_, err := c.Incr(ctx, "nothing", 1)
	fmt.Println(errors.Is(err, sdk.ErrCacheMiss))
	// Output:
	// 1
	// 11
	// true
}

func ExampleClient_OffsetMulti() {
	url, stop := exampleServer()
	defer stop()
	ctx := context.Background()
	c, _ := sdk.New(url)

	c.Set(ctx, "credits", 10)
	values, _ := c.OffsetMulti(ctx, map[string]int{"credits": -3, "missing": 1})
	fmt.Println(*values["credits"], values["missing"])
	// Output: 7 <nil>
}

func ExampleClient_Delete() {
	url, stop := exampleServer()
	defer stop()
	ctx := context.Background()
	c, _ := sdk.New(url)

	c.Set(ctx, "session", "token")
	status, _ := c.Delete(ctx, "session", sdk.WithLockSeconds(30))
	fmt.Println(status)
	ok, _ := c.Add(ctx, "session", "another") // the key is locked for 30 seconds
	fmt.Println(ok)
	status, _ = c.Delete(ctx, "never-set")
	fmt.Println(status)
	// Output:
	// DELETE_SUCCESSFUL
	// false
	// DELETE_ITEM_MISSING
}

func ExampleClient_GetMultiAsync() {
	url, stop := exampleServer()
	defer stop()
	ctx := context.Background()
	c, _ := sdk.New(url)

	c.Set(ctx, "k", []byte("bytes stay bytes"))
	future := c.GetMultiAsync(ctx, []string{"k"})
	// … other work while the request is in flight …
	items, _ := future.GetResult()
	fmt.Printf("%q\n", items["k"])
	// Output: "bytes stay bytes"
}

func ExampleGetAs() {
	url, stop := exampleServer()
	defer stop()
	ctx := context.Background()
	c, _ := sdk.New(url)

	type profile struct {
		Name   string
		Visits int
	}
	c.Set(ctx, "user:42", profile{Name: "Ada", Visits: 3})
	p, _ := sdk.GetAs[profile](ctx, c, "user:42")
	fmt.Printf("%+v\n", p)
	// Output: {Name:Ada Visits:3}
}

// App Engine Go's appengine.Namespace, per request: every call made with the
// context uses the tenant's namespace unless it names its own.
func ExampleNamespace() {
	url, stop := exampleServer()
	defer stop()
	c, _ := sdk.New(url)

	ctx, err := sdk.Namespace(context.Background(), "tenant-42")
	if err != nil {
		panic(err)
	}
	tenant, _ := c.Incr(ctx, "hits", 1, sdk.WithInitialValue(0))
	empty, _ := c.Incr(ctx, "hits", 1, sdk.WithInitialValue(0), sdk.WithNamespace(""))
	named, _ := c.Incr(ctx, "hits", 1, sdk.WithInitialValue(0), sdk.WithNamespace("default"))
	tenant, _ = c.Incr(ctx, "hits", 1)
	fmt.Println(tenant, empty, named)
	// Output:
	// 2 1 1
}
