-- Escape and abuse attempts, picked by the caller's user part. None may reach outside the
-- sandbox, outlive its budget or touch other calls; each ends the call with a log line.
local case = call.from:match("^sip:([%w_]+)@")
local cases = {}
function cases.os_execute() os.execute("touch /tmp/callroute-pwned") end
function cases.os_exit() os.exit(1) end
function cases.os_getenv() return os.getenv("HOME") end
function cases.io_open() io.open("/etc/passwd") end
function cases.require() require("io") end
function cases.package() return package.loaded end
function cases.dofile() dofile("/etc/passwd") end
function cases.loadfile() loadfile("/etc/passwd") end
function cases.load_binary() assert(load("\27Lua\84\0\25\147\13\10\26\10", "bin", "b")) end
function cases.load_binary_text() assert(load("\27Lua\84\0\25\147\13\10\26\10")) end
function cases.load_text() local f = assert(load("return 6 * 7")); call:set("load", f()) end
function cases.string_dump() string.dump(function() end) end
function cases.debug_sethook() debug.sethook() end
function cases.string_meta() getmetatable("").__index = {upper = function() return "pwned" end} end
function cases.string_write() string.upper = function() return "pwned" end end
function cases.rawset() rawset(string, "upper", nil) end
function cases.setmetatable_string() setmetatable(string, {}) end
function cases.gc_finalizer() setmetatable({}, {__gc = function() while true do end end}) end
function cases.collectgarbage() collectgarbage("stop") end
function cases.endless_loop() while true do end end
function cases.pcall_loop() while true do pcall(function() while true do end end) end end
function cases.endless_recursion() local function f() return 1 + f() end return f() end
function cases.memory_bomb()
  local t = {}
  for i = 1, 1e9 do t[i] = string.rep("x", 4096) .. i end
end
function cases.string_bomb() local s = string.rep("x", 1 << 40) end
function cases.pattern_bomb() return string.rep("a", 20000):find(".-.-.-.-b") end
function cases.coroutine_wrap()
  coroutine.wrap(function() call:ask{prompt = "menu.wav", choices = {["1"] = "x"}} end)()
end
function cases.coroutine_yield() coroutine.yield("queue", "Desk") end
function cases.coroutine_resume_self()
  local ok, err = coroutine.resume(coroutine.running())
  call:set("resume", err)
end
if not cases[case] then error("no case " .. tostring(case)) end
cases[case]()
call:hangup("survived")
