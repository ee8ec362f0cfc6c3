/**
 * VERSION is the memcached-http release this SDK belongs to. It is copied
 * from the repository's VERSION file by scripts/set-version.sh.
 */
export const VERSION = "1.0.0";
