-- A mock `reaper` (and `gfx`) for running the syncfoley actions outside REAPER.
-- Every call is recorded in order; the project (tracks, items, takes, notes, markers)
-- is kept as plain tables so the test can read it back as JSON.
--
-- Harder to please than the scripts need, where REAPER is:
-- - items and takes are different objects: an item function given a take (or the other
--   way round) is an error, as it is in REAPER;
-- - GetUserInputs reads its captions as CSV, with the `separator=` and `extrawidth=`
--   options; more or fewer captions than fields, or defaults that split into more
--   fields than there are, is an error (REAPER would show a broken dialog);
-- - gfx.getchar returns -1 once the window is closed;
-- - ExecProcess runs no shell: the command line is split into arguments the way the
--   program would read it (on Windows the Microsoft C runtime's rules; elsewhere words
--   and double quotes) and run directly, by tests/lua/exec_process.py.
-- PPQ: 960 per quarter note at 120 BPM, so 1920 ticks per second from the item start.

local socket = require("socket")

return function(state, script_path, here)
  local calls, queue = {}, {}
  local project = { tracks = {}, markers = {}, messages = {} }
  local function rec(name, ...) calls[#calls + 1] = { name, ... } end

  local function new_item(track, position, length, kind)
    local item = { is_item = true, kind = kind, position = position, length = length, takes = {}, track = track }
    if track then track.items[#track.items + 1] = item end
    return item
  end
  local function new_take(item, fields)
    local take = { is_take = true, item = item, offset = 0, rate = 1, notes = {}, ccs = {}, midi = false }
    for k, v in pairs(fields or {}) do take[k] = v end
    item.takes[#item.takes + 1] = take
    return take
  end
  local function want_item(fn, x)
    if type(x) ~= "table" or not x.is_item then error(fn .. " needs a MediaItem, got " .. (x and x.is_take and "a take" or tostring(x)), 2) end
  end
  local function want_take(fn, x)
    if type(x) ~= "table" or not x.is_take then error(fn .. " needs a MediaItem_Take, got " .. (x and x.is_item and "an item" or tostring(x)), 2) end
  end

  local selected = nil
  if state.item then
    selected = new_item(nil, state.item.position, state.item.length, state.item.midi and "midi" or "video")
    new_take(selected, { midi = state.item.midi or false, source = state.item.file, notes = state.item.notes or {},
                         offset = state.item.startoffs or 0, rate = state.item.playrate or 1 })
  end
  local getchar_calls = 0
  local exec_count = 0

  local function csv(text, sep)
    local out = {}
    for field in (text .. sep):gmatch("(.-)" .. sep:gsub("%p", "%%%0")) do out[#out + 1] = field end
    return out
  end

  reaper = {
    get_action_context = function() return true, script_path, 0, 0, 0, 0, 0 end,
    GetOS = function() return state.os or "Other" end,
    GetExtState = function(_, key) return (state.ext or {})[key] or "" end,
    SetExtState = function(section, key, value, persist) rec("SetExtState", section, key, value, persist) end,
    GetResourcePath = function() return "/nonexistent-reaper-resource" end,
    time_precise = function() return socket.gettime() end,
    GetSelectedMediaItem = function(_, i) if i == 0 then return selected end end,
    GetActiveTake = function(item) want_item("GetActiveTake", item); return item.takes[1] end,
    TakeIsMIDI = function(take) want_take("TakeIsMIDI", take); return take.midi end,
    GetMediaItemInfo_Value = function(item, key)
      want_item("GetMediaItemInfo_Value", item)
      return assert(({ D_POSITION = item.position, D_LENGTH = item.length })[key], "unknown item key " .. key)
    end,
    GetMediaItemTakeInfo_Value = function(take, key)
      want_take("GetMediaItemTakeInfo_Value", take)
      return assert(({ D_STARTOFFS = take.offset, D_PLAYRATE = take.rate })[key], "unknown take key " .. key)
    end,
    GetMediaItemTake_Source = function(take) want_take("GetMediaItemTake_Source", take); return { file = take.source } end,
    GetMediaSourceFileName = function(source, _) return source.file end,
    CountTracks = function() return #project.tracks end,
    InsertTrackAtIndex = function(i, defaults)
      rec("InsertTrackAtIndex", i, defaults)
      table.insert(project.tracks, i + 1, { name = "", items = {} })
    end,
    GetTrack = function(_, i) return project.tracks[i + 1] end,
    GetSetMediaTrackInfo_String = function(track, key, value, set)
      if set and key == "P_NAME" then track.name = value end
      return true, track.name
    end,
    CreateNewMIDIItemInProj = function(track, start, stop, qn)
      rec("CreateNewMIDIItemInProj", track.name, start, stop, qn)
      local item = new_item(track, start, stop - start, "midi")
      new_take(item, { midi = true })
      return item
    end,
    MIDI_GetPPQPosFromProjTime = function(take, t) want_take("MIDI_GetPPQPosFromProjTime", take); return (t - take.item.position) * 1920 end,
    MIDI_GetProjTimeFromPPQPos = function(take, ppq) want_take("MIDI_GetProjTimeFromPPQPos", take); return take.item.position + ppq / 1920 end,
    MIDI_InsertNote = function(take, sel, muted, s, e, chan, pitch, vel, nosort)
      want_take("MIDI_InsertNote", take)
      take.notes[#take.notes + 1] = { start = s, ["end"] = e, chan = chan, pitch = pitch, vel = vel, muted = muted }
      return true
    end,
    MIDI_InsertCC = function(take, sel, muted, ppq, msg, chan, cc, value)
      want_take("MIDI_InsertCC", take)
      take.ccs[#take.ccs + 1] = { ppq = ppq, msg = msg, cc = cc, value = value }
      return true
    end,
    MIDI_Sort = function(take) want_take("MIDI_Sort", take); rec("MIDI_Sort") end,
    MIDI_CountEvts = function(take) want_take("MIDI_CountEvts", take); return true, #take.notes, #take.ccs, 0 end,
    MIDI_GetNote = function(take, i)
      want_take("MIDI_GetNote", take)
      local n = take.notes[i + 1]
      return true, false, n.muted or false, n.start, n["end"], n.chan or 0, n.pitch or 60, n.vel or 100
    end,
    AddProjectMarker2 = function(_, isrgn, pos, rgnend, name, idx, color)
      project.markers[#project.markers + 1] = { pos = pos, name = name }
      return #project.markers
    end,
    GetSet_LoopTimeRange = function() return (state.loop or { 0, 0 })[1], (state.loop or { 0, 0 })[2] end,
    CountProjectMarkers = function() return #(state.markers or {}), #(state.markers or {}), 0 end,
    EnumProjectMarkers3 = function(_, i)
      local m = state.markers[i + 1]
      return i + 1, false, m, 0, "m" .. i, i + 1, 0
    end,
    GetUserInputs = function(title, n, captions_csv, defaults_csv)
      local sep, captions = ",", {}
      for _, c in ipairs(csv(captions_csv, ",")) do
        local s = c:match("^separator=(.)$")
        if s then sep = s
        elseif not c:match("^extrawidth=%d+$") then captions[#captions + 1] = c end
      end
      if #captions ~= n then
        error(string.format("GetUserInputs: %d captions for %d fields: %s", #captions, n, table.concat(captions, " | ")))
      end
      local defaults = csv(defaults_csv, sep)
      if #defaults > n then
        error(string.format("GetUserInputs: the defaults split into %d fields for %d: %q", #defaults, n, defaults_csv))
      end
      rec("GetUserInputs", title, captions, defaults)
      if state.user_input == false then return false, "" end
      if state.user_input == nil then return true, defaults_csv end
      return true, table.concat(state.user_input, sep)
    end,
    AddMediaItemToTrack = function(track) return new_item(track, 0, 0, "audio") end,
    AddTakeToMediaItem = function(item) want_item("AddTakeToMediaItem", item); return new_take(item) end,
    PCM_Source_CreateFromFile = function(path)
      rec("PCM_Source_CreateFromFile", path)
      return { path = path }
    end,
    SetMediaItemTake_Source = function(take, source) want_take("SetMediaItemTake_Source", take); take.source = source.path end,
    GetMediaSourceLength = function(source)
      -- The WAV's length from its header: data bytes / (rate * block align).
      local f = assert(io.open(source.path, "rb"))
      local data = f:read("a")
      f:close()
      local fmt = data:find("fmt ", 1, true)
      local channels, rate, _, align = string.unpack("<I2I4I4I2", data, fmt + 10)
      local d = data:find("data", 1, true)
      local size = string.unpack("<I4", data, d + 4)
      return size / (rate * align), false
    end,
    SetMediaItemInfo_Value = function(item, key, value)
      want_item("SetMediaItemInfo_Value", item)
      rec("SetMediaItemInfo_Value", key, value)
      if key == "D_POSITION" then item.position = value elseif key == "D_LENGTH" then item.length = value
      else error("unknown item key " .. key) end
      return true
    end,
    GetSetMediaItemTakeInfo_String = function(take, key, value, set)
      want_take("GetSetMediaItemTakeInfo_String", take)
      if set then take.name = value end
      return true, value
    end,
    Undo_BeginBlock = function() rec("Undo_BeginBlock") end,
    Undo_EndBlock = function(name, flags) rec("Undo_EndBlock", name, flags) end,
    UpdateArrange = function() end,
    ShowMessageBox = function(msg, title, kind)
      project.messages[#project.messages + 1] = msg
      return 1
    end,
    ExecProcess = function(cmd, timeout)
      rec("ExecProcess", cmd, timeout)
      if timeout >= 0 then error("ExecProcess with timeout " .. timeout .. " would freeze REAPER until the job ends") end
      exec_count = exec_count + 1
      local base = state.exec_dir .. "/exec-" .. exec_count
      local f = assert(io.open(base .. ".cmdline", "wb"))
      f:write(cmd)
      f:close()
      local rules = (state.os or "Other"):match("^Win") and "windows" or "posix"
      -- The mock's own launch of the model (a shell here is the mock's, not the script's).
      os.execute(string.format("'%s' '%sexec_process.py' %s '%s.cmdline' '%s.argv.json' &",
        state.python, here, rules, base, base))
      return ""
    end,
    defer = function(fn) queue[#queue + 1] = fn end,
  }
  gfx = {
    x = 0, y = 0,
    init = function(title) rec("gfx.init", title) end,
    quit = function() rec("gfx.quit") end,
    getchar = function()
      getchar_calls = getchar_calls + 1
      if state.cancel_after and getchar_calls > state.cancel_after then return 27 end
      if state.close_after and getchar_calls > state.close_after then return -1 end
      return 0
    end,
    drawstr = function() end,
    update = function() end,
  }

  -- The project as plain data: each item with its active take's fields beside its own.
  local function dump()
    local tracks = {}
    for _, t in ipairs(project.tracks) do
      local items = {}
      for _, it in ipairs(t.items) do
        local take = it.takes[1] or {}
        items[#items + 1] = { kind = it.kind, position = it.position, length = it.length, takes = #it.takes,
                              notes = take.notes, ccs = take.ccs, source = take.source, name = take.name }
      end
      tracks[#tracks + 1] = { name = t.name, items = items }
    end
    return tracks
  end
  return calls, queue, project, dump
end
