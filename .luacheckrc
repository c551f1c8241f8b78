-- luacheck configuration for callroute IVR scripts (examples/workflows/*.lua, tests/lua/*.lua):
-- `luacheck examples/workflows` catches typos in the call and rg API and globals the sandbox
-- (lua/lua_sandbox.c) does not give. A script is the body of a function of (_ENV, call).
std = "none"
max_line_length = 120

read_globals = {
  -- the call being handled (lua/README.md): read-only fields and methods
  call = {
    fields = {
      id = {}, from = {}, to = {}, language = {}, workflow = {},
      play = {}, ask = {}, collect = {}, queue = {}, transfer = {}, voicemail = {},
      hangup = {}, set = {},
    },
  },
  -- the response-group helpers
  rg = { fields = { is_open = {}, is_holiday = {}, now = {} } },
  -- what the sandbox keeps of the standard library
  "assert", "error", "ipairs", "next", "pairs", "pcall", "rawequal", "rawget", "rawlen",
  "select", "tonumber", "tostring", "type", "xpcall", "getmetatable", "setmetatable",
  "load", "collectgarbage", "print", "_VERSION",
  string = { fields = { "byte", "char", "find", "format", "gmatch", "gsub", "len", "lower",
                        "match", "rep", "reverse", "sub", "upper", "pack", "packsize",
                        "unpack" } },
  table = { other_fields = true },
  math = { other_fields = true },
  utf8 = { other_fields = true },
  coroutine = { other_fields = true },
  os = { fields = { "clock", "difftime", "time", "date" } },
}

-- tests/lua holds scripts that are wrong on purpose (abuse, errors, syntax)
exclude_files = { "tests/lua/abuse.lua", "tests/lua/errors.lua", "tests/lua/syntax_error.lua" }
