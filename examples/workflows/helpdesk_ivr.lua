-- Contoso help desk: a two-level menu, by keypad or by voice.
local dept = call:ask{prompt = "helpdesk-menu.wav", timeout = 6, retries = 2,
  choices = {["1"] = "computers", ["2"] = "facilities", ["0"] = "operator"},
  speech = {computers = {"computer", "laptop", "password", "email"},
            facilities = {"building", "parking", "office"}},
  invalid = "sorry-invalid.wav", noanswer = "sorry-noanswer.wav"}
if dept == "computers" then
  local topic = call:ask{prompt = "it-menu.wav", invalid = "sorry-invalid.wav",
    choices = {["1"] = "password", ["2"] = "hardware", ["3"] = "software"}}
  call:set("topic", topic or "general")
  call:queue("IT Support")
elseif dept == "facilities" then
  call:queue("Facilities")
elseif dept == "operator" then
  call:transfer("tel:+14255550100")
else
  call:play("goodbye.wav")
  call:hangup("no_choice")
end
