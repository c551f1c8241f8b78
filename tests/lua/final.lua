-- The final steps, picked by the caller's user part.
local case = call.from:match("^sip:([%w_]+)@")
call:set("case", case)
if case == "queue" then call:queue("Sales Team")
elseif case == "queue_default" then call:queue()
elseif case == "transfer" then call:transfer("sip:someone@test")
elseif case == "transfer_number" then call:transfer("+14255550100")
elseif case == "voicemail" then call:voicemail("sip:vm@test")
elseif case == "voicemail_default" then call:voicemail()
elseif case == "hangup" then call:hangup("bye")
elseif case == "hangup_default" then call:hangup()
end
-- falling off the end hangs up
