-- call:collect: min, max, terminator, timeouts, multi-digit DTMF, type-ahead, speech.
local opts = {prompt = "enter.wav", min = 4, max = 6, timeout = 3}
if call.from == "sip:noterm@test" then opts.terminator = false end
if call.from == "sip:star@test" then opts.terminator = "*" end
local d = call:collect(opts)
call:set("digits", tostring(d))
local more = call:collect{min = 1, max = 2, timeout = 2}
call:set("more", tostring(more))
call:hangup()
