-- A mock `reaper` (and `gfx`) for running the syncfoley actions outside REAPER.
-- Every call is recorded in order; the project (tracks, items, notes, markers) is kept
-- as plain tables so the test can read it back as JSON.
-- PPQ: 960 per quarter note at 120 BPM, so 1920 ticks per second from the item start.

local socket = require("socket")

return function(state, script_path)
  local calls, queue = {}, {}
  local project = { tracks = {}, markers = {}, messages = {}, ext = {} }
  local function rec(name, ...) calls[#calls + 1] = { name, ... } end
  local selected = nil
  if state.item then
    selected = { position = state.item.position, length = state.item.length, midi = state.item.midi or false,
                 file = state.item.file, notes = state.item.notes or {}, ccs = {},
                 offset = state.item.startoffs or 0, rate = state.item.playrate or 1 }
  end
  local getchar_calls = 0

  reaper = {
    get_action_context = function() return true, script_path, 0, 0, 0, 0, 0 end,
    GetExtState = function(_, key) return (state.ext or {})[key] or "" end,
    SetExtState = function(section, key, value, persist) rec("SetExtState", section, key, value, persist) end,
    GetResourcePath = function() return "/nonexistent-reaper-resource" end,
    time_precise = function() return socket.gettime() end,
    GetSelectedMediaItem = function(_, i) if i == 0 then return selected end end,
    GetActiveTake = function(item) return item end,
    TakeIsMIDI = function(take) return take.midi end,
    GetMediaItemInfo_Value = function(item, key)
      return ({ D_POSITION = item.position, D_LENGTH = item.length })[key]
    end,
    GetMediaItemTakeInfo_Value = function(take, key)
      return ({ D_STARTOFFS = take.offset, D_PLAYRATE = take.rate })[key]
    end,
    GetMediaItemTake_Source = function(take) return { file = take.file } end,
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
      local item = { kind = "midi", position = start, length = stop - start, midi = true, notes = {}, ccs = {} }
      track.items[#track.items + 1] = item
      return item
    end,
    MIDI_GetPPQPosFromProjTime = function(take, t) return (t - take.position) * 1920 end,
    MIDI_GetProjTimeFromPPQPos = function(take, ppq) return take.position + ppq / 1920 end,
    MIDI_InsertNote = function(take, sel, muted, s, e, chan, pitch, vel, nosort)
      take.notes[#take.notes + 1] = { start = s, ["end"] = e, chan = chan, pitch = pitch, vel = vel, muted = muted }
      return true
    end,
    MIDI_InsertCC = function(take, sel, muted, ppq, msg, chan, cc, value)
      take.ccs[#take.ccs + 1] = { ppq = ppq, msg = msg, cc = cc, value = value }
      return true
    end,
    MIDI_Sort = function(take) rec("MIDI_Sort") end,
    MIDI_CountEvts = function(take) return true, #take.notes, #take.ccs, 0 end,
    MIDI_GetNote = function(take, i)
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
    GetUserInputs = function(title, n, captions, defaults)
      rec("GetUserInputs", title, defaults)
      if state.user_input == false then return false, "" end
      return true, state.user_input or defaults
    end,
    AddMediaItemToTrack = function(track)
      local item = { kind = "audio", position = 0, length = 0 }
      track.items[#track.items + 1] = item
      return item
    end,
    AddTakeToMediaItem = function(item) return item end,
    PCM_Source_CreateFromFile = function(path)
      rec("PCM_Source_CreateFromFile", path)
      return { path = path }
    end,
    SetMediaItemTake_Source = function(take, source) take.source = source.path end,
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
      rec("SetMediaItemInfo_Value", key, value)
      if key == "D_POSITION" then item.position = value elseif key == "D_LENGTH" then item.length = value end
      return true
    end,
    GetSetMediaItemTakeInfo_String = function(take, key, value, set) if set then take.name = value end return true, value end,
    Undo_BeginBlock = function() rec("Undo_BeginBlock") end,
    Undo_EndBlock = function(name, flags) rec("Undo_EndBlock", name, flags) end,
    UpdateArrange = function() end,
    ShowMessageBox = function(msg, title, kind)
      project.messages[#project.messages + 1] = msg
      return 1
    end,
    ExecProcess = function(cmd, timeout)
      rec("ExecProcess", cmd, timeout)
      os.execute(cmd .. " &")  -- detached, as REAPER runs it with a timeout of -1
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
      return 0
    end,
    drawstr = function() end,
    update = function() end,
  }
  return calls, queue, project
end
