// Package lua holds the Lua that the Redis scripts of several packages
// share, so that each rule is written once: a script that needs it starts
// with it.
package lua

import _ "embed" // the Lua sources

// Extend defines extend(key, fresh, ttl), the rule that keeps a tenant's
// index keys alive at least as long as their newest member (see
// extend.lua). The stores' admission and touch scripts and the
// migration's index script all apply it.
//
//go:embed extend.lua
var Extend string
