-- Calls share a Lua state but not their globals, the string library or its metatable.
if call.from == "sip:writer@test" then
  shared = "from writer"
  pcall(function() string.upper = function() return "pwned" end end)
  pcall(function() getmetatable("").__index = {upper = function() return "pwned" end} end)
  call:set("writer_upper", ("x"):upper())
  call:play("hold.wav") -- stays alive while the reader runs
  call:hangup("writer")
else
  call:set("shared", tostring(shared))
  call:set("reader_upper", ("x"):upper())
  call:set("string_mt", tostring(getmetatable("")))
  call:hangup("reader")
end
