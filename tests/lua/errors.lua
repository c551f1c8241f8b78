-- Script errors and misuse of the API, picked by the caller's user part. Each ends in the
-- workflow's fallback with a log line naming the script line.
local case = call.from:match("^sip:([%w_]+)@")
local cases = {}
function cases.runtime() local t = nil; return t.field end
function cases.error() error("custom failure") end
function cases.error_table() error({code = 1}) end
function cases.unknown_method() call:frobnicate() end
function cases.unknown_field() return call.nonexistent end
function cases.dot_call() call.play("x.wav") end
function cases.readonly() call.id = "forged" end
function cases.ask_not_table() call:ask("menu.wav") end
function cases.ask_no_choices() call:ask{prompt = "menu.wav"} end
function cases.ask_bad_key() call:ask{choices = {["12"] = "x"}} end
function cases.ask_bad_option() call:ask{choices = {["1"] = "x"}, timout = 3} end
function cases.ask_bad_timeout() call:ask{choices = {["1"] = "x"}, timeout = -1} end
function cases.collect_min_max() call:collect{min = 5, max = 2} end
function cases.collect_terminator() call:collect{terminator = "##"} end
function cases.play_nothing() call:play() end
function cases.play_newline() call:play("a\nb") end
function cases.unknown_queue() call:queue("Nope") end
function cases.no_queue() call:queue() end
function cases.transfer_empty() call:transfer("") end
function cases.transfer_space() call:transfer("sip:a b@test") end
function cases.hangup_words() call:hangup("two words") end
function cases.set_bad_key() call:set("bad key", 1) end
function cases.set_table() call:set("k", {}) end
function cases.rg_unknown_set() rg.is_open("Nope") end
function cases.rg_unknown_fn() rg.open() end
function cases.rg_write() rg.now = function() return 0 end end
function cases.after_wait()
  call:play("first.wav")
  local n = nil
  return n + 1
end
function cases.global_nil() undefined_function() end
function cases.ask_dup_key() call:ask{choices = {[1] = "one", ["1"] = "uno"}} end
if not cases[case] then error("no case " .. tostring(case)) end
cases[case]()
call:hangup("survived")
