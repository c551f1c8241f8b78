-- Contoso's main line (+1 425 555 0150): press 1 for sales, 2 for support. A key not on
-- the menu replays it after invalid.wav; no key within 8 s, three times: Support.
local dept = call:ask{prompt = "main-menu.wav", invalid = "invalid.wav", timeout = 8,
  retries = 2, choices = {["1"] = "sales", ["2"] = "support"}}
if dept == "sales" then
  call:queue("Sales")
else
  call:queue("Support")
end
