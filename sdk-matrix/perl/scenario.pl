#!/usr/bin/perl
# The matrix scenario (see ../README.md) through OpenAPI::Client (Debian's
# libopenapi-client-perl), which builds its methods from api/openapi.yaml at
# run time and validates each request against it.
use strict;
use warnings;
use utf8;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use JSON::PP ();
use OpenAPI::Client;

my $spec = abs_path(dirname(__FILE__) . '/../../api/openapi.yaml');
my $ns = $ENV{MATRIX_NS} or die "MATRIX_NS not set\n";
# Coercing numbers and strings would turn the number 42.5 into the string
# "42.5" (a value may be either): only booleans are coerced (README,
# "Generating a client").
my $client = OpenAPI::Client->new("file://$spec", base_url => $ENV{MATRIX_BASE_URL}, coerce => "booleans");
my $json = JSON::PP->new->canonical->allow_nonref;

my $weird = "a/b:c%d?e#f g é";

sub same {
    my ($what, $got, $want) = @_;
    my ($g, $w) = map { $json->encode($_) } $got, $want;
    die "$what: got $g, want $w\n" unless $g eq $w;
}

sub call {
    my ($op, $params, $body) = @_;
    my $tx = $client->$op({namespace => $ns, %$params}, defined $body ? (json => $body) : ());
    return (0 + ($tx->res->code // 0), $tx->res->json);
}

sub stored {
    my ($key, $body) = @_;
    my ($code, $res) = call('set', {key => $key}, $body);
    same("set $key status", $code, 200);
    return $res->{cas};
}

sub read_item {
    my ($key) = @_;
    my ($code, $res) = call('get', {key => $key});
    same("get $key status", $code, 200);
    return $res;
}

# A string, a number and a nested object, each read back as written.
my $object = {name => 'Ada', tags => ['x', {deep => JSON::PP::true}], n => undef};
for my $case (['string', 'hello'], ['number', 42.5], ['object', $object]) {
    my ($key, $value) = @$case;
    stored($key, {value => $value});
    same("$key value", read_item($key)->{value}, $value);
}

# Bytes, as base64 with encoding base64.
stored('bytes', {value => 'AAEC//4=', encoding => 'base64'});
my $bytes = read_item('bytes');
same('bytes', [$bytes->{value}, $bytes->{encoding}], ['AAEC//4=', 'base64']);

# A key with reserved characters, found under exactly that key by batchGet.
stored($weird, {value => 'weird'});
same('weird key', read_item($weird)->{value}, 'weird');
my ($code, $res) = call('getMulti', {}, {keys => [$weird]});
same('batchGet weird key', [$code, [keys %{$res->{items}}]], [200, [$weird]]);

# incr creates the counter from initial_value, decr subtracts.
($code, $res) = call('incr', {key => 'hits:total'}, {delta => 5, initial_value => 10});
same('incr', [$code, $res->{value}], [200, 15]);
($code, $res) = call('decr', {key => 'hits:total'}, {delta => 3});
same('decr', [$code, $res->{value}], [200, 12]);

# batchGet with key_prefix: keyed without the prefix, misses absent.
stored('user:1', {value => 'one'});
stored('user:2', {value => 'two'});
($code, $res) = call('getMulti', {}, {keys => ['1', '2', '3'], key_prefix => 'user:'});
same('batchGet status', $code, 200);
same('batchGet', {map { $_ => $res->{items}{$_}{value} } keys %{$res->{items}}}, {1 => 'one', 2 => 'two'});

# A cas with a stale token answers 412 and stores nothing.
my $stale = stored('cas', {value => 'v1'});
stored('cas', {value => 'v2'});
($code, $res) = call('set', {key => 'cas', mode => 'cas'}, {value => 'v3', cas => $stale});
same('stale cas status', $code, 412);
same('after stale cas', read_item('cas')->{value}, 'v2');

print "OpenAPI::Client scenario: ok\n";
