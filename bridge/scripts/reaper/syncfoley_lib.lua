-- @description syncfoley: Foley on picture (detect onsets, generate Foley, Foley for item)
-- @author syncfoley
-- @version 0.3.1
-- @changelog
--   Project markers from "Detect onsets" carry each onset's confidence in their name
--   (onset 3 (conf 0.87)), so a run at a high sensitivity can be thinned by it.
-- @metapackage
-- @provides
--   .
--   [main] syncfoley_detect_onsets.lua
--   [main] syncfoley_generate_from_midi.lua
--   [main] syncfoley_foley_for_item.lua
-- @about
--   Puts Foley on picture in sync: finds the action onsets of a video item as MIDI notes you
--   can edit, and renders Foley on them. Needs the syncfoley engine daemon (syncfoley serve).
--
-- syncfoley: shared code of the REAPER actions (OSC, JSON, transport, timeline edits).
-- Loaded by the actions with dofile; not an action itself. It is also the ReaPack package
-- (a metapackage) that installs the three actions beside it.
--
-- Transport: REAPER's Lua has no sockets. With LuaSocket present (ReaPack: "Mavriq Lua
-- Sockets") requests go over UDP, polled from reaper.defer with settimeout(0). Without
-- it, `syncfoley send ... --wait` runs detached through reaper.ExecProcess (no shell) and
-- the action polls the files send writes. Either way REAPER's UI never waits.
-- (reaper.OscLocalMessageToHost only talks to REAPER itself: it cannot reach the daemon.)

local M = {}

M.SECTION = "syncfoley"

-- ------------------------------------------------------------------ settings (ExtState)
function M.setting(key, default)
  local v = reaper.GetExtState(M.SECTION, key)
  if v == nil or v == "" then return default end
  return v
end

-- ------------------------------------------------------------------ JSON
local function esc(s)
  return (s:gsub('[%c"\\]', function(c)
    local map = { ['"'] = '\\"', ['\\'] = '\\\\', ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t' }
    return map[c] or string.format("\\u%04x", c:byte())
  end))
end

function M.json_encode(v)
  local t = type(v)
  if t == "nil" then return "null"
  elseif t == "boolean" then return v and "true" or "false"
  elseif t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then return "null" end
    if math.type(v) == "integer" then return tostring(v) end
    return string.format("%.9g", v)
  elseif t == "string" then return '"' .. esc(v) .. '"'
  elseif t == "table" then
    if #v > 0 or next(v) == nil and getmetatable(v) == M.array then
      local parts = {}
      for i = 1, #v do parts[i] = M.json_encode(v[i]) end
      return "[" .. table.concat(parts, ",") .. "]"
    end
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = tostring(k) end
    table.sort(keys)
    local parts = {}
    for _, k in ipairs(keys) do parts[#parts + 1] = '"' .. esc(k) .. '":' .. M.json_encode(v[k]) end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  error("cannot encode a " .. t .. " as JSON")
end

M.array = {}  -- metatable marking an empty table as a JSON array
function M.empty_array() return setmetatable({}, M.array) end

function M.json_decode(s)
  local pos = 1
  local value
  local function ws() pos = s:find("[^ \t\r\n]", pos) or #s + 1 end
  local function fail(what) error(string.format("bad JSON at %d: %s", pos, what)) end
  local function str()
    local out = {}
    pos = pos + 1
    while true do
      local c = s:sub(pos, pos)
      if c == "" then fail("unterminated string") end
      if c == '"' then pos = pos + 1; return table.concat(out) end
      if c == "\\" then
        local n = s:sub(pos + 1, pos + 1)
        local simple = { b = "\b", f = "\f", n = "\n", r = "\r", t = "\t", ['"'] = '"', ["\\"] = "\\", ["/"] = "/" }
        if simple[n] then out[#out + 1] = simple[n]; pos = pos + 2
        elseif n == "u" then out[#out + 1] = utf8.char(tonumber(s:sub(pos + 2, pos + 5), 16)); pos = pos + 6
        else fail("bad escape") end
      else
        out[#out + 1] = c; pos = pos + 1
      end
    end
  end
  function value()
    ws()
    local c = s:sub(pos, pos)
    if c == "{" then
      local obj = {}
      pos = pos + 1; ws()
      if s:sub(pos, pos) == "}" then pos = pos + 1; return obj end
      while true do
        ws()
        if s:sub(pos, pos) ~= '"' then fail("expected a key") end
        local k = str(); ws()
        if s:sub(pos, pos) ~= ":" then fail("expected ':'") end
        pos = pos + 1
        obj[k] = value(); ws()
        local d = s:sub(pos, pos); pos = pos + 1
        if d == "}" then return obj end
        if d ~= "," then fail("expected ',' or '}'") end
      end
    elseif c == "[" then
      local arr = M.empty_array()
      pos = pos + 1; ws()
      if s:sub(pos, pos) == "]" then pos = pos + 1; return arr end
      while true do
        arr[#arr + 1] = value(); ws()
        local d = s:sub(pos, pos); pos = pos + 1
        if d == "]" then return arr end
        if d ~= "," then fail("expected ',' or ']'") end
      end
    elseif c == '"' then return str()
    elseif s:sub(pos, pos + 3) == "true" then pos = pos + 4; return true
    elseif s:sub(pos, pos + 4) == "false" then pos = pos + 5; return false
    elseif s:sub(pos, pos + 3) == "null" then pos = pos + 4; return nil
    else
      local num = s:match("^-?%d+%.?%d*[eE]?[-+]?%d*", pos)
      if not num or num == "" then fail("unexpected " .. c) end
      pos = pos + #num
      return tonumber(num)
    end
  end
  local ok, result = pcall(value)
  if not ok then return nil, result end
  return result
end

function M.read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local data = f:read("a")
  f:close()
  return data
end

function M.write_file(path, text)
  local tmp = path .. ".partial"
  local f = assert(io.open(tmp, "wb"))
  f:write(text)
  f:close()
  os.remove(path)
  assert(os.rename(tmp, path))
  return path
end

-- ------------------------------------------------------------------ OSC
local function pad(s) return s .. string.rep("\0", 4 - #s % 4) end

function M.osc_message(address, ...)
  local tags, body = ",", {}
  for _, a in ipairs({ ... }) do
    if type(a) == "string" then tags = tags .. "s"; body[#body + 1] = pad(a)
    elseif math.type(a) == "integer" then tags = tags .. "i"; body[#body + 1] = string.pack(">i4", a)
    else tags = tags .. "f"; body[#body + 1] = string.pack(">f", a) end
  end
  return pad(address) .. pad(tags) .. table.concat(body)
end

function M.osc_parse(data)
  local function rd_str(i)
    local z = data:find("\0", i, true)
    if not z then return nil end
    local len = z - i
    return data:sub(i, z - 1), i + (len // 4 + 1) * 4
  end
  local address, i = rd_str(1)
  if not address then return nil end
  local tags
  tags, i = rd_str(i)
  local args = {}
  for k = 2, #(tags or "") do
    local t = tags:sub(k, k)
    if t == "s" then
      local v; v, i = rd_str(i); args[#args + 1] = v
    elseif t == "i" then
      args[#args + 1] = string.unpack(">i4", data, i); i = i + 4
    elseif t == "f" then
      args[#args + 1] = string.unpack(">f", data, i); i = i + 4
    end
  end
  return address, args
end

-- ------------------------------------------------------------------ transports
function M.is_windows()
  local name = reaper.GetOS and reaper.GetOS() or ""
  if name ~= "" then return name:match("^Win") ~= nil end
  return package.config:sub(1, 1) == "\\"
end

-- One argument as the Microsoft C runtime (CommandLineToArgvW) reads it back: the rules
-- ExecProcess's CreateProcess hands our command line to. No cmd.exe is involved, so
-- & % ^ ( ) in a path mean nothing.
function M.quote_windows(arg)
  if arg ~= "" and not arg:find('[%s"]') then return arg end
  local out, slashes = { '"' }, 0
  for c in arg:gmatch(".") do
    if c == "\\" then
      slashes = slashes + 1
    elseif c == '"' then
      out[#out + 1] = string.rep("\\", 2 * slashes + 1) .. '"'
      slashes = 0
    else
      out[#out + 1] = string.rep("\\", slashes) .. c
      slashes = 0
    end
  end
  out[#out + 1] = string.rep("\\", 2 * slashes) .. '"'
  return table.concat(out)
end

-- On macOS and Linux the arguments we pass are our own temporary paths, a host and a
-- port: double quotes group them whether ExecProcess splits the line itself or hands it
-- to a shell, as long as none holds a character either would treat specially.
M.POSIX_UNSAFE = '["$`\\]'  -- what a shell would read inside double quotes

function M.quote_posix(arg)
  if arg:find(M.POSIX_UNSAFE) then error("cannot pass " .. arg .. " to ExecProcess safely") end
  return '"' .. arg .. '"'
end

function M.command_line(args)
  local quote = M.is_windows() and M.quote_windows or M.quote_posix
  local parts = { M.setting("command", "syncfoley") }  -- a command prefix, as the user wrote it
  for _, a in ipairs(args) do parts[#parts + 1] = quote(tostring(a)) end
  return table.concat(parts, " ")
end

-- A fresh file name prefix in the temporary folder (no folder to create, no shell).
function M.temp_prefix()
  local base = os.getenv("TEMP") or os.getenv("TMP") or os.getenv("TMPDIR") or "/tmp"
  if not M.is_windows() and base:find(M.POSIX_UNSAFE) then base = "/tmp" end
  base = base:gsub("[/\\]+$", "")
  -- "/" on Windows too: its file functions take either, and a mock on Linux reads the same path.
  return string.format("%s/syncfoley-reaper-%d-%d-", base, os.time(), math.random(1, 1e9))
end

local function load_socket()
  if M.setting("transport", "auto") == "exec" then return nil end
  local ok, socket = pcall(require, "socket")
  if ok and socket and socket.udp then return socket end
  -- Mavriq Lua Sockets, as ReaPack installs it.
  local base = reaper.GetResourcePath() .. "/Scripts/Mavriq ReaScript Repository/Various/Mavriq-Lua-Sockets/"
  package.cpath = package.cpath .. ";" .. base .. "?.so;" .. base .. "?.dll;" .. base .. "?.dylib"
  package.path = package.path .. ";" .. base .. "?.lua"
  ok, socket = pcall(require, "socket.core")
  if ok and socket and socket.udp then return socket end
  return nil
end

-- LuaSocket's sendto takes an IP address only: a name is resolved here, once.
function M.resolve_host(socket, host)
  if host == "localhost" then return "127.0.0.1" end
  if host:match("^%d+%.%d+%.%d+%.%d+$") or host:find(":", 1, true) then return host end
  local ip = socket.dns and socket.dns.toip(host)
  if not ip then return nil, "cannot resolve the daemon's host '" .. host .. "' (ExtState syncfoley/host)" end
  return ip
end

local function with_token(payload)
  local token = M.setting("token", "")
  if token ~= "" then payload.token = token end
  return payload
end

-- A job over UDP: start() sends, poll() returns nil while running, else (result table | nil, error).
local function udp_job(socket, address, payload)
  local host, bad = M.resolve_host(socket, M.setting("host", "127.0.0.1"))
  local port = tonumber(M.setting("port", "9000"))
  local job = { kind = "udp", fraction = 0, text = "sent" }
  if not host then
    function job.start() end
    function job.cancel() end
    function job.poll() return nil, bad end
    return job
  end
  local v6 = host:find(":", 1, true) ~= nil
  local udp = v6 and socket.udp6 and socket.udp6() or socket.udp()
  udp:settimeout(0)
  -- Replies come back to this port: loopback only when the daemon is on this machine.
  local loopback = host:match("^127%.") or host == "::1"
  udp:setsockname(loopback and host or (v6 and "::" or "0.0.0.0"), 0)
  with_token(payload)
  function job.start()
    udp:sendto(M.osc_message("/syncfoley/" .. address, M.json_encode(payload)), host, port)
    job.sent_at = reaper.time_precise()
  end
  function job.cancel()
    if job.id then
      udp:sendto(M.osc_message("/syncfoley/cancel", M.json_encode(with_token({ job_id = job.id }))), host, port)
    end
  end
  function job.poll()
    while true do
      local data = udp:receive()
      if not data then break end
      local addr, args = M.osc_parse(data)
      if addr == "/syncfoley/accepted" then job.id = args[1]
      elseif addr == "/syncfoley/progress" and args[1] == job.id then job.fraction, job.text = args[2], args[3]
      elseif addr == "/syncfoley/done" and args[1] == job.id then
        udp:close()
        return M.json_decode(args[2])
      elseif addr == "/syncfoley/error" and (job.id == nil or args[3] == job.id) then
        udp:close()
        return nil, args[1] .. ": " .. args[2]
      end
    end
    if job.id == nil and reaper.time_precise() - job.sent_at > 5 then
      udp:close()
      return nil, "no answer from the syncfoley daemon at " .. host .. ":" .. port .. " (start it: syncfoley serve)"
    end
    return nil
  end
  return job
end

M.EXEC_START_S = 30  -- how long `syncfoley send` may take to write its first log line

-- A job through `syncfoley send`, started by ExecProcess without waiting and without a
-- shell: the request goes in a file, and send itself writes its log, its result and
-- (last) its exit status to files, which poll() reads.
local function exec_job(address, payload)
  local prefix = M.temp_prefix()
  local f = { request = prefix .. "request.json", result = prefix .. "result.json", log = prefix .. "log.txt",
              status = prefix .. "status.txt" }
  local host, port = M.setting("host", "127.0.0.1"), M.setting("port", "9000")
  local wait = M.is_windows() and -2 or -1  -- don't wait (and on Windows, a minimised window)
  local job = { kind = "exec", fraction = 0, text = "started" }
  function job.start()
    M.write_file(f.request, M.json_encode(with_token(payload)))
    job.started = reaper.time_precise()
    reaper.ExecProcess(M.command_line({ "send", address, "@" .. f.request, "--wait", "--host", host, "--port", port,
      "--result", f.result, "--log", f.log, "--exit-status", f.status }), wait)
  end
  function job.cancel()
    if not job.id then return end
    local c = prefix .. "cancel-"
    M.write_file(c .. "request.json", M.json_encode(with_token({ job_id = job.id })))
    reaper.ExecProcess(M.command_line({ "send", "cancel", "@" .. c .. "request.json", "--host", host, "--port", port,
      "--log", c .. "log.txt", "--exit-status", c .. "status.txt" }), wait)
  end
  function job.poll()
    local log = M.read_file(f.log)
    if log == nil then
      if reaper.time_precise() - job.started > M.EXEC_START_S then
        return nil, "'" .. M.setting("command", "syncfoley") .. " send' did not start within " .. M.EXEC_START_S
          .. " s: is syncfoley installed, or ExtState syncfoley/command set to how to run it?"
      end
      return nil
    end
    for l in log:gmatch("[^\r\n]+") do
      local id = l:match("^accepted (%S+)")
      if id then job.id = id end
      local fr, text = l:match("^progress %S+ ([%d.]+) (.*)$")
      if fr then job.fraction, job.text = tonumber(fr), text end
    end
    local code = (M.read_file(f.status) or ""):match("^%s*(%d+)%s*$")
    if not code then return nil end
    if tonumber(code) ~= 0 then
      local last = log:match("([^\r\n]+)[\r\n]*$") or ("exit status " .. code)
      return nil, (last:gsub("^syncfoley: error ", ""))
    end
    local body = (M.read_file(f.result) or ""):match("^%s*(.-)%s*$")
    local result, bad = M.json_decode(body)
    if result == nil then return nil, "unreadable result (" .. tostring(bad) .. "): " .. body end
    return result
  end
  return job
end

--- Run a daemon request without blocking REAPER: a small window shows progress; closing
--- it (or Esc) cancels. on_done(result) runs inside the defer loop; on_error(message) too.
function M.run(address, payload, title, on_done, on_error)
  local socket = load_socket()
  local job = socket and udp_job(socket, address, payload) or exec_job(address, payload)
  job.start()
  gfx.init("syncfoley: " .. title, 420, 60)
  local function finish()
    gfx.quit()
  end
  local function loop()
    local result, err = job.poll()
    if result ~= nil then finish(); on_done(result); return end
    if err ~= nil then finish(); on_error(err); return end
    local ch = gfx.getchar()
    if ch == 27 or ch < 0 then
      job.cancel()
      finish()
      on_error("cancelled")
      return
    end
    gfx.x, gfx.y = 10, 10
    gfx.drawstr(string.format("%3d%%  %s   (Esc cancels; via %s)", math.floor((job.fraction or 0) * 100 + 0.5),
      job.text or "", job.kind))
    gfx.update()
    reaper.defer(loop)
  end
  reaper.defer(loop)
end

-- ------------------------------------------------------------------ the timeline
--- The selected item, its take and what REAPER plays of its source.
function M.selected_item()
  local item = reaper.GetSelectedMediaItem(0, 0)
  if not item then return nil, "select an item first" end
  local take = reaper.GetActiveTake(item)
  if not take then return nil, "the selected item has no take" end
  local info = {
    item = item, take = take,
    position = reaper.GetMediaItemInfo_Value(item, "D_POSITION"),
    length = reaper.GetMediaItemInfo_Value(item, "D_LENGTH"),
    offset = reaper.GetMediaItemTakeInfo_Value(take, "D_STARTOFFS"),
    rate = reaper.GetMediaItemTakeInfo_Value(take, "D_PLAYRATE"),
    midi = reaper.TakeIsMIDI(take),
  }
  if not info.midi then
    info.file = reaper.GetMediaSourceFileName(reaper.GetMediaItemTake_Source(take), "")
  end
  if info.rate <= 0 then info.rate = 1 end
  return info
end

--- Source time of a project time, and back: source = D_STARTOFFS + (project - D_POSITION) * D_PLAYRATE.
function M.to_source(info, t) return info.offset + (t - info.position) * info.rate end
function M.to_project(info, s) return info.position + (s - info.offset) / info.rate end

function M.new_track(name)
  local index = reaper.CountTracks(0)
  reaper.InsertTrackAtIndex(index, true)
  local track = reaper.GetTrack(0, index)
  reaper.GetSetMediaTrackInfo_String(track, "P_NAME", name, true)
  return track
end

--- A MIDI item of the onsets (project times): a note per hit (velocity from strength), a
--- note as long as each contact region, the intensity envelope as CC 11.
function M.onsets_item(track, start, stop, onsets, regions, envelope, note)
  local item = reaper.CreateNewMIDIItemInProj(track, start, stop, false)
  local take = reaper.GetActiveTake(item)
  local function ppq(t) return reaper.MIDI_GetPPQPosFromProjTime(take, t) end
  for i, o in ipairs(onsets) do
    local nxt = onsets[i + 1] and onsets[i + 1].time or o.time + 0.05
    local off = math.min(o.time + 0.05, nxt - 0.001)
    local vel = math.max(1, math.min(127, math.floor(1 + (o.strength or 1) * 126 + 0.5)))
    reaper.MIDI_InsertNote(take, false, false, ppq(o.time), ppq(off), 0, note, vel, true)
  end
  for _, r in ipairs(regions or {}) do
    local vel = math.max(1, math.min(127, math.floor(1 + (r.strength or 1) * 126 + 0.5)))
    reaper.MIDI_InsertNote(take, false, false, ppq(r.start), ppq(r["end"]), 0, note + 1, vel, true)
  end
  if envelope then
    local last = -1
    for i, v in ipairs(envelope.values) do
      local value = math.floor(v * 127 + 0.5)
      if value ~= last then
        reaper.MIDI_InsertCC(take, false, false, ppq(envelope.start + (i - 1) / envelope.rate), 0xB0, 0, 11, value)
        last = value
      end
    end
  end
  reaper.MIDI_Sort(take)
  return item, take
end

--- The hits of a MIDI take (project times): notes shorter than 0.2 s are hits, longer ones regions.
function M.read_notes(take)
  local _, notes = reaper.MIDI_CountEvts(take)
  local onsets, regions = {}, {}
  for i = 0, notes - 1 do
    local _, _, muted, s, e, _, _, vel = reaper.MIDI_GetNote(take, i)
    if not muted then
      local a, b = reaper.MIDI_GetProjTimeFromPPQPos(take, s), reaper.MIDI_GetProjTimeFromPPQPos(take, e)
      if b - a >= 0.2 then regions[#regions + 1] = { start = a, ["end"] = b, strength = vel / 127 }
      else onsets[#onsets + 1] = { time = a, strength = (vel - 1) / 126 } end
    end
  end
  table.sort(onsets, function(x, y) return x.time < y.time end)
  return onsets, regions
end

--- An onsets JSON file for `generate`, times relative to ``start`` (the WAV's first sample).
function M.write_onsets(path, start, length, onsets, regions)
  local list, regs = M.empty_array(), M.empty_array()
  for _, o in ipairs(onsets) do
    local t = o.time - start
    if t >= 0 and t < length then list[#list + 1] = { time = t, strength = o.strength, confidence = 1.0 } end
  end
  for _, r in ipairs(regions or {}) do
    regs[#regs + 1] = { start = r.start - start, ["end"] = r["end"] - start, strength = r.strength }
  end
  return M.write_file(path, M.json_encode({
    schema = "syncfoley.onsets/1", source = "REAPER", fps = 0, duration = length, detector = "midi",
    range = { start = 0, ["end"] = length }, onsets = list, regions = regs,
  }))
end

--- The WAV on a new track at ``position``.
function M.insert_wav(path, position, name)
  local track = M.new_track(name)
  local item = reaper.AddMediaItemToTrack(track)
  local take = reaper.AddTakeToMediaItem(item)
  local source = reaper.PCM_Source_CreateFromFile(path)
  reaper.SetMediaItemTake_Source(take, source)
  local length = reaper.GetMediaSourceLength(source)
  reaper.SetMediaItemInfo_Value(item, "D_POSITION", position)
  reaper.SetMediaItemInfo_Value(item, "D_LENGTH", length)
  reaper.GetSetMediaItemTakeInfo_String(take, "P_NAME", name, true)
  return item
end

-- GetUserInputs takes its captions as one comma-separated list (a comma inside a caption
-- starts the next one) and its values joined by the separator: a newline, which no
-- one-line field can hold, so a value may contain commas. No caption has a comma.
M.DIALOG_SEPARATOR = "\n"

function M.ask(title, captions, values)
  local clean = {}
  for i, v in ipairs(values) do clean[i] = (tostring(v):gsub("[\r\n]", " ")) end
  local ok, answer = reaper.GetUserInputs(title, #captions,
    table.concat(captions, ",") .. ",separator=" .. M.DIALOG_SEPARATOR .. ",extrawidth=120",
    table.concat(clean, M.DIALOG_SEPARATOR))
  if not ok then return nil end
  local fields = {}
  for field in (answer .. M.DIALOG_SEPARATOR):gmatch("(.-)" .. M.DIALOG_SEPARATOR) do
    fields[#fields + 1] = field:match("^%s*(.-)%s*$")
  end
  return fields
end

function M.preset()
  local last = M.setting("preset", "wood")
  local fields = M.ask("syncfoley: Foley", { "Preset: wood / metal / glass / ... (syncfoley presets)" }, { last })
  if not fields then return nil end
  local value = fields[1] or ""
  if value == "" then value = last end
  reaper.SetExtState(M.SECTION, "preset", value, true)
  return value
end

M.DETECTORS = { "auto", "motion", "audio", "neural", "physics" }

-- The detector and sensitivity (as text) the detect action's dialog last kept; auto and 0.5 before.
function M.remembered_detection()
  return M.setting("detector", "auto"), M.setting("sensitivity", "0.5")
end

-- The detect action's dialog: detector and sensitivity, remembered between runs.
-- Returns nil when cancelled, else detector, sensitivity (a number 0..1).
function M.detect_settings()
  local detector, sensitivity = M.remembered_detection()
  local fields = M.ask("syncfoley: Detect onsets",
    { "Detector: " .. table.concat(M.DETECTORS, " / "), "Sensitivity 0..1 (0.5 balanced)" }, { detector, sensitivity })
  if not fields then return nil end
  local d, s = fields[1], fields[2]
  d = (d == nil or d == "") and detector or d:lower()
  local known = false
  for _, name in ipairs(M.DETECTORS) do known = known or name == d end
  if not known then
    M.fail("unknown detector '" .. d .. "'; choose one of " .. table.concat(M.DETECTORS, ", "))
    return nil
  end
  local number = tonumber(s)
  if number == nil or number < 0 or number > 1 then
    M.fail("sensitivity must be a number from 0 to 1, got " .. tostring(s))
    return nil
  end
  reaper.SetExtState(M.SECTION, "detector", d, true)
  reaper.SetExtState(M.SECTION, "sensitivity", tostring(number), true)
  return d, number
end

function M.fail(message)
  reaper.ShowMessageBox("syncfoley: " .. message, "syncfoley", 0)
end

return M
