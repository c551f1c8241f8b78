-- Front desk: in business hours the caller goes to the workflow's queue; on holidays and
-- after hours a greeting offers voicemail (or the on-call number for emergencies).
local holiday = rg.is_holiday("US 2027")
if rg.is_open("Redmond Weekdays") and not holiday then
  call:queue()
end
call:play(holiday and "closed-holiday.wav" or "closed-after-hours.wav")
local choice = call:ask{prompt = "press-1-for-voicemail.wav", timeout = 5, retries = 1,
  choices = {["1"] = "voicemail", ["9"] = "emergency"},
  speech = {voicemail = {"message", "voicemail"}, emergency = {"emergency", "urgent"}}}
if choice == "voicemail" then
  call:voicemail("sip:frontdesk-vm@contoso.com")
elseif choice == "emergency" then
  call:transfer("tel:+14255550199")
end
call:play("goodbye.wav")
call:hangup()
