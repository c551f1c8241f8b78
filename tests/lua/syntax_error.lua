-- a syntax error on line 3
call:play("x.wav"
call:hangup()
