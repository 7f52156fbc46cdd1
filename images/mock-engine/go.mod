module leviathan/mock-engine

// Stdlib only: the binary must build offline from the Go toolchain alone.
go 1.24
