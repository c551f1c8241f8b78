-- rg.now() is engine time with its milliseconds; os.date takes it as it is (the fraction of
-- a second dropped, as os.time() gives it), so a call arriving between two seconds can
-- format its time. Before, os.date refused every fractional time ("number has no integer
-- representation"), i.e. nearly every live call.
local now = rg.now()
call:set("now", now)
call:set("os_time", os.time())
call:set("date", os.date("!%Y-%m-%d %H:%M:%S", now))
call:set("hour", os.date("!*t", now).hour)
call:set("before_epoch", os.date("!%Y-%m-%d %H:%M:%S", -0.5))
local ok, err = pcall(os.date, "!%H", 0 / 0)
call:set("nan", tostring(ok) .. " " .. tostring(err))
ok, err = pcall(os.date, "!%H", "soon")
call:set("text", tostring(ok) .. " " .. tostring(err))
call:hangup("clock")
