-- call:ask by keypad and by voice, wrong and missing answers, retries.
local v = call:ask{prompt = "menu.wav", timeout = 4, retries = 2,
  choices = {["1"] = "sales", ["2"] = "support"},
  speech = {sales = {"buy", "sales"}, support = {"help", "broken"}},
  invalid = "invalid.wav", noanswer = "noanswer.wav"}
call:set("answer", tostring(v))
if v == "sales" then
  call:queue("Sales Team")
elseif v == "support" then
  call:transfer("sip:support@test")
end
call:hangup("no_answer")
