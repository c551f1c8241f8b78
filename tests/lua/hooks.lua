-- Lua code that Lua itself would run with the hooks off after the budget's error (raised
-- inside the count hook), where a loop would never end and hang the engine: an xpcall
-- message handler, the __close of a coroutine.wrap coroutine. Picked by the caller's user
-- part; the *_fine cases show both still work as in Lua otherwise.
local case = call.from:match("^sip:([%w_]+)@")
local cases = {}
function cases.xpcall_handler_loop()
  xpcall(function() error("first") end, function() while true do end end)
end
function cases.xpcall_both_loop()
  xpcall(function() while true do end end, function() while true do end end)
end
function cases.xpcall_fine()
  local ok, e = xpcall(function() error("boom", 0) end, function(m) return "handled " .. m end)
  local ok2, v = xpcall(function(a, b) call:play("inside.wav"); return a + b end, print, 2, 3)
  call:set("xpcall", tostring(ok) .. "/" .. e .. "/" .. tostring(ok2) .. "/" .. v)
end
local function closer(body) return setmetatable({}, {__close = body}) end
function cases.wrap_close_loop()
  coroutine.wrap(function()
    local x <close> = closer(function() while true do end end)
    while true do end
  end)()
end
function cases.wrap_close_fine()
  local closed = "no"
  local ok, e = pcall(coroutine.wrap(function()
    local x <close> = closer(function() closed = "yes" end)
    error("inside")
  end))
  local f = coroutine.wrap(function(a) local b = coroutine.yield(a + 1); return b * 2 end)
  local first, second = f(1), f(5)
  local ok2, dead = pcall(f)
  call:set("wrap", closed .. "/" .. tostring(ok) .. "/" .. e .. "/" .. first .. "/" .. second
    .. "/" .. tostring(ok2) .. "/" .. dead)
end
if not cases[case] then error("no case " .. tostring(case)) end
cases[case]()
call:hangup("survived")
