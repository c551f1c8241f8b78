-- call:play waits for the prompt to end; DTMF during a prompt ends it (barge-in) and is
-- kept for the next question.
call:play("one.wav")
call:play("two.wav")
if call.from == "sip:typeahead@test" then
  local v = call:ask{prompt = "menu.wav", choices = {["1"] = "first", ["2"] = "second"}}
  call:set("typed", v)
end
call:hangup("played")
