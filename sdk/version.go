package sdk

// Version is the memcached-http release this SDK belongs to. It is copied
// from the repository's VERSION file by scripts/set-version.sh.
const Version = "1.0.0"
