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
function cases.pattern_bomb() return string.rep("a", 16000):find(".-.-.-.-b") end
function cases.coroutine_wrap()
  coroutine.wrap(function() call:ask{prompt = "menu.wav", choices = {["1"] = "x"}} end)()
end
function cases.coroutine_yield() coroutine.yield("queue", "Desk") end
function cases.coroutine_resume_self()
  local ok, err = coroutine.resume(coroutine.running())
  call:set("resume", err)
end
-- Library functions that run in C, out of the count hook's sight (issue 10): each is
-- charged to the budget for its work, so each ends in the fallback within the budget.
local function big(n) local s = "a" for _ = 1, n do s = s .. s end return s end -- 2^n bytes
function cases.rep_empty() string.rep("", math.maxinteger) end
function cases.rep_empty_sep() string.rep("", 1 << 40, "") end
function cases.table_move() table.move({}, 1, math.maxinteger - 1, 2) end
function cases.pattern_optional() big(5):match(string.rep("a?", 40) .. string.rep("a", 40)) end
function cases.pattern_literal() big(14):find(big(13) .. "b") end
function cases.pattern_literal_match() big(14):match(big(13) .. "b") end
function cases.pattern_balance() string.rep("(", 1 << 14):find("%b()") end
function cases.pattern_set() big(14):find("[" .. string.rep("b", 1 << 13) .. "]") end
function cases.gmatch_loop() for _ in big(14):gmatch("a-a-a-b") do end end
function cases.gsub_repl() big(14):gsub("", string.rep("%0", 1000), math.maxinteger) end
function cases.table_insert_len()
  table.insert(setmetatable({}, {__len = function() return math.maxinteger - 1 end}), 1, 1)
end
function cases.table_remove_len()
  table.remove(setmetatable({}, {__len = function() return 1 << 62 end}), 1)
end
function cases.table_concat_range()
  table.concat(setmetatable({}, {__index = function() return "" end}), "", 1, 1 << 40)
end
function cases.table_unpack_loop() while true do table.unpack({}, 1, 20000) end end
function cases.table_sort_loop()
  local t = {} for i = 1, 5000 do t[i] = -i end
  while true do table.sort(t) end
end
function cases.utf8_len_loop() local s = big(14) while true do utf8.len(s) end end
function cases.utf8_codes_skip()
  local s = "a" .. string.rep("\x80", (1 << 14) - 1)
  local f = utf8.codes(s)
  while true do f(s, 1) end
end
function cases.utf8_char_args() utf8.char(table.unpack({}, 1, 50000)) end
function cases.byte_loop() local s = big(14) while true do s:byte(1, -1) end end
function cases.tonumber_loop() local s = big(14) while true do tonumber(s) end end
function cases.format_loop() local s = big(14) while true do string.format(s) end end
function cases.packsize_loop() local s = string.rep(" ", 1 << 14) while true do string.packsize(s) end end
function cases.load_loop() local s = string.rep(" ", 1 << 14) while true do load(s) end end
function cases.concat_loop() local s = big(13) while true do local t = s .. "x" end end
function cases.compare_loop()
  local a = big(14) local b = a:sub(1, -2) .. "b"
  while a ~= b do end
end
function cases.next_sparse()
  local t = {} for i = 1, 60000 do t[i] = true end
  for i = 1, 59999 do t[i] = nil end
  while true do next(t) end
end
function cases.big_string() local s = big(21) end
function cases.memory_pcall_loop()
  local s = big(13)
  while true do pcall(function() local t = {} for i = 1, 100 do t[i] = s .. i end end) end
end
function cases.coroutine_rep()
  coroutine.wrap(function() while true do local _ = string.rep("x", 10000) end end)()
end
function cases.fine() call:set("after", string.rep("ab", 3) .. #string.format("%5d", 1)) end
-- `next` from nil or from a key it did not return last pays for the slots it may scan
function cases.next_emptied()
  local t = {} for i = 1, 60000 do t[i] = true end
  for i = 1, 60000 do t[i] = nil end
  while true do next(t) end
end
function cases.next_hash_skip()
  local t = {} for i = 1, 30000 do t["k" .. i] = i end
  local keys = {} for k in pairs(t) do keys[#keys + 1] = k end
  for i = 2, #keys - 1 do t[keys[i]] = nil end
  while true do next(t, keys[1]) end
end
function cases.pairs_restart()
  local t = {} for i = 1, 60000 do t[i] = true end
  for i = 1, 60000 do t[i] = nil end
  while true do for _ in pairs(t) do end end
end
if not cases[case] then error("no case " .. tostring(case)) end
cases[case]()
call:hangup("survived")
