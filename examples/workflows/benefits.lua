-- Benefits line (helpdesk.xml): claims go to the benefits desk, everything else to the
-- workflow's queue with the topic for the agent.
local topic = call:ask{prompt = "benefits-menu.wav", invalid = "sorry-invalid.wav",
  choices = {["1"] = "enrolment", ["2"] = "claims"}}
if topic == "claims" then
  call:transfer("sip:benefits-desk@contoso.com")
end
call:set("topic", topic or "benefits")
call:queue()
