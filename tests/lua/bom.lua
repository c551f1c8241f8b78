#!/usr/bin/env lua
-- saved with a UTF-8 byte order mark and a "#!" line: both as lua itself reads them
call:play("bom.wav")
call:hangup("bom")
