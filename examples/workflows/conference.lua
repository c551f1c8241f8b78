-- Dial-in conferencing attendant: a conference ID and its PIN, three tries, then the caller
-- joins the conference (a transfer to its URI) or hears a polite goodbye.
local PINS = {["123456"] = "4321", ["777000"] = "0000"} -- conference ID -> PIN

call:play("conf-welcome.wav")
for try = 1, 3 do
  local id = call:collect{prompt = "conf-enter-id.wav", min = 6, max = 6, timeout = 8}
  local pin = id and call:collect{prompt = "conf-enter-pin.wav", min = 4, max = 8, timeout = 8}
  if id and pin and PINS[id] == pin then
    call:set("conference", id)
    call:transfer("sip:conf-" .. id .. "@conference.contoso.com")
  end
  if try < 3 then call:play("conf-try-again.wav") end
end
call:play("conf-goodbye.wav")
call:hangup("conference_denied")
