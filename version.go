package ganger

// Version is ganger's version, reported by GET /version and `ganger version`.
const Version = "0.1.0"
