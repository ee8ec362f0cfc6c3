"""The pymemcache half of the client scenario (clients_test.go runs it).

Usage: pymemcache_scenario.py HOST:PORT PHASE. The Go test moves the
server's clock between phases; each phase prints "ok PHASE" or fails.
"""
import sys

from pymemcache.client.base import Client

host, port = sys.argv[1].rsplit(":", 1)
phase = sys.argv[2]
mc = Client((host, int(port)), default_noreply=False)
other = Client((host, int(port)), default_noreply=False)

if phase == "start":
    assert mc.set("greeting", b"hello", flags=5)
    value = mc.get("greeting")
    assert value == b"hello", value
    assert mc.get("missing") is None

    assert mc.set("a", b"1") and mc.set("b", b"\x00\r\n2")
    many = mc.get_many(["a", "b", "missing"])
    assert many == {"a": b"1", "b": b"\x00\r\n2"}, many

    assert mc.add("fresh", b"x") is True
    assert mc.add("fresh", b"y") is False
    assert mc.replace("nobody", b"y") is False
    assert mc.append("fresh", b"-end") and mc.prepend("fresh", b"start-")
    assert mc.get("fresh") == b"start-x-end"

    # cas: a write in between makes the first client's cas fail.
    _, mine = mc.gets("greeting")
    _, theirs = other.gets("greeting")
    assert other.cas("greeting", b"theirs", theirs) is True
    assert mc.cas("greeting", b"mine", mine) is False
    assert mc.cas("nobody", b"x", mine) is None, "cas on a missing key is NOT_FOUND"
    value, again = mc.gets("greeting")
    assert value == b"theirs"
    assert mc.cas("greeting", b"mine", again) is True

    # incr wraps at 2^64, decr stops at 0, a missing counter is None.
    assert mc.set("n", b"18446744073709551615")
    assert mc.incr("n", 2) == 1
    assert mc.decr("n", 5) == 0
    assert mc.incr("no-counter", 1) is None

    assert mc.delete("a") is True
    assert mc.delete("a") is False
    assert mc.get("a") is None

    assert mc.set("t", b"x", expire=10)
    assert mc.touch("t", 100) is True
    assert mc.set("e", b"x", expire=5)
elif phase == "before-expiry":
    assert mc.get("e") == b"x", "alive before its 5 s"
elif phase == "after-expiry":
    assert mc.get("e") is None, "expired after 5 s"
    assert mc.get("t") == b"x", "touched to 100 s, alive past its first 10"
elif phase == "after-touch":
    assert mc.get("t") is None
    assert mc.touch("t", 10) is False
    assert mc.get("greeting") == b"mine"
elif phase == "flush":
    assert mc.flush_all() is True
    assert mc.get("greeting") is None
    assert mc.version().startswith(b"1.6")
    assert mc.stats()[b"curr_items"] == 0
else:
    sys.exit("unknown phase " + phase)
print("ok " + phase)
