-- luacheck configuration for callroute's Lua IVR scripts (SPEC §4, lua/):
--   luacheck --config .luacheckrc examples/workflows/*.lua
-- A script runs in a sandbox: no io, require, dofile or debug; the globals below are all it
-- sees. `call` (the call object: fields and methods) and `rg` (business hours) are the
-- callroute API; a misspelt method or field (call:paly, rg.is_opne) is an error here as it
-- is at run time.
stds.callroute = {
  read_globals = {
    call = {
      fields = {
        -- fields (read-only)
        "id", "from", "to", "language", "workflow",
        -- methods (call:play(...))
        "play", "ask", "collect", "queue", "transfer", "voicemail", "hangup", "set",
      },
    },
    rg = { fields = { "is_open", "is_holiday", "now" } },
    -- the sandbox's base library
    "assert", "error", "ipairs", "next", "pairs", "pcall", "rawequal", "rawget", "rawlen",
    "select", "tonumber", "tostring", "type", "xpcall", "getmetatable", "setmetatable",
    "load", "collectgarbage", "print", "_VERSION",
    string = {
      fields = { "byte", "char", "find", "format", "gmatch", "gsub", "len", "lower", "match",
                 "rep", "reverse", "sub", "upper", "pack", "packsize", "unpack" },
    },
    table = { fields = { "concat", "insert", "move", "pack", "remove", "sort", "unpack" } },
    math = {
      fields = { "abs", "acos", "asin", "atan", "ceil", "cos", "deg", "exp", "floor", "fmod",
                 "huge", "log", "max", "maxinteger", "min", "mininteger", "modf", "pi", "rad",
                 "random", "randomseed", "sin", "sqrt", "tan", "tointeger", "type", "ult" },
    },
    utf8 = { fields = { "char", "charpattern", "codepoint", "codes", "len", "offset" } },
    coroutine = {
      fields = { "close", "create", "isyieldable", "resume", "running", "status", "wrap",
                 "yield" },
    },
    os = { fields = { "clock", "difftime", "time", "date" } },
  },
}
std = "callroute"
-- the engine's own prelude (lua/call_api.lua) is not a script
exclude_files = { "lua/call_api.lua", "build*/**" }
