package redisstore

import (
	_ "embed" // the Lua scripts

	"github.com/redis/go-redis/v9"

	"github.com/seedmcp/tenancy/internal/keys"
	"github.com/seedmcp/tenancy/internal/lua"
	"github.com/seedmcp/tenancy/tenant"
)

// The Lua scripts, one file each under lua/, where each explains its keys,
// arguments and answer. Every script touches the keys of one hash slot only
// (one tenant's keys, or one global key), so each runs atomically on a
// cluster as on a single node. redis.Script sends EVALSHA and falls back to
// EVAL once when the server does not know the script yet. The scripts that
// keep a tenant's index keys alive start with internal/lua's extend.
var (
	//go:embed lua/admit.lua
	admitLua string
	//go:embed lua/touch.lua
	touchLua string
	//go:embed lua/remove.lua
	removeLua string
	//go:embed lua/gcra.lua
	gcraLua string
	//go:embed lua/replace.lua
	replaceLua string
	//go:embed lua/delifvalue.lua
	delIfValueLua string
	//go:embed lua/create.lua
	createLua string
	//go:embed lua/usage.lua
	usageLua string
	//go:embed lua/audit.lua
	auditLua string
	//go:embed lua/adminkey.lua
	adminKeyLua string
	//go:embed lua/adminkeyused.lua
	adminKeyUsedLua string
	//go:embed lua/grant.lua
	grantLua string

	admitScript      = redis.NewScript(lua.Extend + unrecorded + admitLua)
	touchScript      = redis.NewScript(lua.Extend + unrecorded + touchLua)
	removeScript     = redis.NewScript(removeLua)
	gcraScript       = redis.NewScript(gcraLua)
	replaceScript    = redis.NewScript(replaceLua)
	delIfValueScript = redis.NewScript(delIfValueLua)
	createScript     = redis.NewScript(createLua)

	usageScript        = redis.NewScript(usageLua)
	auditScript        = redis.NewScript(auditLua)
	adminKeyScript     = redis.NewScript(adminKeyLua)
	adminKeyUsedScript = redis.NewScript(adminKeyUsedLua)
	grantScript        = redis.NewScript(unrecorded + grantLua)
)

// unrecorded goes ahead of the scripts that store a tenant's clients,
// sessions and grants, which write nothing for a tenant without a record:
// it names the record of tenant default, which single-tenant mode serves
// from its configuration without one, and whose writes are therefore not
// refused.
var unrecorded = "local default_metadata = '" + keys.Metadata(tenant.DefaultID) + "'\n"

// scripts lists every script by name, for tests that load them all.
var scripts = map[string]*redis.Script{
	"admit":      admitScript,
	"touch":      touchScript,
	"remove":     removeScript,
	"gcra":       gcraScript,
	"replace":    replaceScript,
	"delifvalue": delIfValueScript,
	"create":     createScript,

	"usage":        usageScript,
	"audit":        auditScript,
	"adminkey":     adminKeyScript,
	"adminkeyused": adminKeyUsedScript,
	"grant":        grantScript,
}
