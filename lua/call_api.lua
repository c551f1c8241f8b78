-- The blocking part of the call API: call:play, call:ask and call:collect, over two C
-- primitives: wait(op, arg, choices, timeout_ms) hands a step to the engine, yields, and
-- returns the input kind ("prompt_done", "dtmf", "speech", "timer") and text; priv(call, api)
-- returns the running call's private table (type-ahead digits `ahead`, an unused `speech`
-- result). It runs in the sandbox, inside the call's budget. Errors are raised at level 0:
-- the driver names the script's line from the coroutine's stack. Embedded at build time
-- (lua/CMakeLists.txt) as livr_prelude.
local wait, priv = ...
local type, pairs, ipairs, tostring, error = type, pairs, ipairs, tostring, error
local sort, concat = table.sort, table.concat
local format, lower, gsub, find, sub, gmatch, upper =
  string.format, string.lower, string.gsub, string.find, string.sub, string.gmatch, string.upper
local floor, mtype = math.floor, math.type

local M = {}
local ASK = {prompt = 1, choices = 1, speech = 1, timeout = 1, retries = 1, invalid = 1,
             noanswer = 1}
local COLLECT = {prompt = 1, min = 1, max = 1, timeout = 1, terminator = 1}
-- spoken digits
local WORDS = {zero = '0', one = '1', two = '2', three = '3', four = '4', five = '5',
               six = '6', seven = '7', eight = '8', nine = '9', star = '*', pound = '#',
               hash = '#'}
local SAY = {['0'] = 'zero', ['1'] = 'one', ['2'] = 'two', ['3'] = 'three', ['4'] = 'four',
             ['5'] = 'five', ['6'] = 'six', ['7'] = 'seven', ['8'] = 'eight', ['9'] = 'nine',
             ['*'] = 'star', ['#'] = 'pound'}

local function fail(...)
  error(format(...), 0)
end

local function options(o, known, api)
  if o == nil then return {} end
  if type(o) ~= 'table' then fail('call:%s: expects a table of options', api) end
  for k in pairs(o) do
    if not known[k] then fail('call:%s: unknown option %s', api, tostring(k)) end
  end
  return o
end

local function prompt(o, k, api)
  local v = o[k]
  if v == nil then return '' end
  if type(v) ~= 'string' or v == '' then fail('call:%s: %s must be a prompt name', api, k) end
  return v
end

local function seconds(o, k, api, def)
  local v = o[k]
  if v == nil then return def end
  if type(v) ~= 'number' or not (v > 0 and v <= 3600) then
    fail('call:%s: %s must be seconds between 0 and 3600', api, k)
  end
  return floor(v * 1000 + 0.5)
end

local function count(o, k, api, def, lo, hi)
  local v = o[k]
  if v == nil then return def end
  if type(v) ~= 'number' or v ~= floor(v) or v < lo or v > hi then
    fail('call:%s: %s must be a whole number from %d to %d', api, k, lo, hi)
  end
  return floor(v)
end

-- DTMF keys of an input, one per character; anything else is dropped.
local function dtmf(s)
  return upper((gsub(s or '', '[^%d%*#A-Da-d]', '')))
end

-- " words in lower case without punctuation "
local function norm(s)
  s = gsub(lower(s), '[%p%c]', ' ')
  s = gsub(s, '%s+', ' ')
  return ' ' .. s .. ' '
end

local function spoken_digits(s)
  local out = {}
  for w in gmatch(lower(s or ''), '[%w%*#]+') do
    if WORDS[w] then
      out[#out + 1] = WORDS[w]
    elseif find(w, '^[%d%*#]+$') then
      out[#out + 1] = w
    end
  end
  return concat(out)
end

-- Plays a prompt. DTMF or speech during it ends it (barge-in) and is kept for the next
-- ask or collect.
function M.play(self, name)
  local p = priv(self, 'play')
  if type(name) ~= 'string' or name == '' then fail('call:play: expects a prompt name') end
  local kind, text = wait('play', name, '', 0)
  if kind == 'dtmf' then
    p.ahead = p.ahead .. dtmf(text)
  elseif kind == 'speech' then
    p.speech = text
  end
end

-- The phrases an answer may contain, as {phrase, value}: each key, its spoken name and its
-- string value, and the speech table's phrases (in a fixed order); and the phrases to show
-- the host. Phrases are normalized only when speech comes (recognize).
local function phrases_of(o, bykey, keys)
  local list, shown, seen = {}, {}, {}
  local function add(text, value, show)
    if type(text) ~= 'string' or text == '' then
      fail('call:ask: speech phrases must be non-empty strings')
    end
    list[#list + 1] = {text, value}
    if show and not seen[text] then
      seen[text] = true
      shown[#shown + 1] = text
    end
  end
  for _, key in ipairs(keys) do
    local v = bykey[key]
    add(key, v)
    add(SAY[key], v)
    if type(v) == 'string' and v ~= '' then add(v, v, o.speech ~= nil) end
  end
  if o.speech ~= nil then
    if type(o.speech) ~= 'table' then fail('call:ask: speech must be a table') end
    local values = {}
    for v in pairs(o.speech) do values[#values + 1] = v end
    if #values > 1 then sort(values, function(a, b) return tostring(a) < tostring(b) end) end
    for _, v in ipairs(values) do
      local ws = o.speech[v]
      if type(ws) == 'string' then ws = {ws} end
      if type(ws) ~= 'table' then
        fail('call:ask: speech.%s must be a list of phrases', tostring(v))
      end
      for _, w in ipairs(ws) do add(w, v, true) end
    end
  end
  return list, shown
end

-- The one value whose phrases the utterance contains (nil when none or several).
local function recognize(list, text)
  local said, found, n = norm(text or ''), nil, 0
  for _, ph in ipairs(list) do
    if find(said, norm(ph[1]), 1, true) and found ~= ph[2] then
      found, n = ph[2], n + 1
    end
  end
  if n == 1 then return found end
end

-- The choices' keys (sorted) and the value of each.
local function choices_of(o)
  local keys, bykey = {}, {}
  if o.choices ~= nil then
    if type(o.choices) ~= 'table' then fail('call:ask: choices must be a table') end
    for k, v in pairs(o.choices) do
      local key = tostring(k)
      if (type(k) ~= 'string' and mtype(k) ~= 'integer') or not find(key, '^[%d%*#]$') then
        fail('call:ask: choice %s is not one DTMF key', key)
      end
      if bykey[key] ~= nil then fail('call:ask: choice %s is given twice', key) end
      keys[#keys + 1] = key
      bykey[key] = v
    end
    sort(keys)
  end
  return keys, bykey
end

-- call:ask runs in C (lua_ask.c) when its options are plain; M.ask is what it means, and
-- what runs otherwise.
function M.ask(self, o)
  local p = priv(self, 'ask')
  if type(o) ~= 'table' then
    fail('call:ask: expects a table: call:ask{prompt=..., choices=...}')
  end
  options(o, ASK, 'ask')
  local ask = prompt(o, 'prompt', 'ask')
  local invalid, noanswer = prompt(o, 'invalid', 'ask'), prompt(o, 'noanswer', 'ask')
  local timeout = seconds(o, 'timeout', 'ask', 5000)
  local retries = count(o, 'retries', 'ask', 2, 0, 10)
  local keys, bykey = choices_of(o)
  local list, shown = phrases_of(o, bykey, keys)
  if #keys == 0 and #shown == 0 then fail('call:ask: choices or speech are needed') end
  local spec = 'keys=' .. concat(keys, ',')
  if #shown > 0 then spec = spec .. ' speech=' .. concat(shown, '|') end
  if #spec > 255 then spec = sub(spec, 1, 255) end
  for _ = 0, retries do
    local kind, text
    if p.ahead ~= '' then
      kind = 'dtmf'
    elseif p.speech then
      kind, text, p.speech = 'speech', p.speech, nil
    else
      kind, text = wait('collect', ask, spec, timeout)
      if kind == 'dtmf' then p.ahead = dtmf(text) end
    end
    local value
    if kind == 'dtmf' then
      value = bykey[sub(p.ahead, 1, 1)]
      p.ahead = sub(p.ahead, 2)
    elseif kind == 'speech' then
      value = recognize(list, text)
    end
    if value ~= nil then return value end
    p.ahead = ''
    local say = kind == 'timer' and noanswer or invalid
    if say ~= '' then M.play(self, say) end
  end
  return nil
end

-- Digits up to max, the terminator or a timeout (the first digit's, then between digits).
-- nil when fewer than min digits came.
function M.collect(self, o)
  local p = priv(self, 'collect')
  o = options(o, COLLECT, 'collect')
  local ask = prompt(o, 'prompt', 'collect')
  local min = count(o, 'min', 'collect', 1, 0, 64)
  local max = count(o, 'max', 'collect', min > 20 and min or 20, 1, 64)
  if max < min then fail('call:collect: max is less than min') end
  local term = o.terminator
  if term == nil then
    term = '#'
  elseif term == false then
    term = ''
  end
  if type(term) ~= 'string' or not find(term, '^[%*#%d]?$') then
    fail('call:collect: terminator must be one DTMF key, "" or false')
  end
  local timeout = seconds(o, 'timeout', 'collect', 5000)
  local spec = 'digits=' .. (min == max and min or min .. '-' .. max)
  if term ~= '' then spec = spec .. ' end=' .. term end
  p.speech = nil
  local got, asked = '', false
  while true do
    while p.ahead ~= '' do
      local d = sub(p.ahead, 1, 1)
      p.ahead = sub(p.ahead, 2)
      if d == term then
        if #got >= min then return got end
        return nil
      end
      got = got .. d
      if #got >= max then return got end
    end
    local kind, text
    if not asked then
      asked = true
      kind, text = wait('collect', got == '' and ask or '', spec, timeout)
    else
      kind, text = wait('wait', '', '', timeout)
    end
    if kind == 'dtmf' then
      p.ahead = dtmf(text)
    elseif kind == 'speech' then
      p.ahead = spoken_digits(text)
    elseif kind == 'timer' then
      if got ~= '' and #got >= min then return got end
      return nil
    end
  end
end

-- The value an utterance names, for options lua_ask.c checked: the list M.ask builds.
local function speech_value(o, text)
  local keys, bykey = choices_of(o)
  return recognize(phrases_of(o, bykey, keys), text)
end

return M, speech_value
