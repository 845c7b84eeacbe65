-- @noindex
-- syncfoley: Generate Foley from selected MIDI item (or markers in the time selection)
--
--   Reads the notes of the selected MIDI item (as you edited them) - or, with no MIDI
--   item selected, the project markers inside the time selection - and asks the engine
--   for Foley with the preset you choose (remembered). The WAV goes on a new track,
--   exactly under the notes. Needs the engine daemon: syncfoley serve.
-- Installed by ReaPack with syncfoley_lib.lua (the package), which it loads.

local here = ({ reaper.get_action_context() })[2]:match("^(.*[/\\])")
local sf = dofile(here .. "syncfoley_lib.lua")

local function from_markers()
  local a, b = reaper.GetSet_LoopTimeRange(false, false, 0, 0, false)
  if b <= a then return nil end
  local onsets = {}
  local _, markers, regions = reaper.CountProjectMarkers(0)
  for i = 0, markers + regions - 1 do
    local _, isrgn, pos = reaper.EnumProjectMarkers3(0, i)
    if not isrgn and pos >= a and pos < b then onsets[#onsets + 1] = { time = pos, strength = 0.8 } end
  end
  table.sort(onsets, function(x, y) return x.time < y.time end)
  return { position = a, length = b - a }, onsets, {}
end

local span, onsets, regions
local info = sf.selected_item()
if info and info.midi then
  span = info
  onsets, regions = sf.read_notes(info.take)
else
  span, onsets, regions = from_markers()
end
if not span then return sf.fail("select a MIDI item of onsets, or set a time selection around markers") end
if #onsets == 0 and #regions == 0 then return sf.fail("no notes or markers to put Foley on") end
local preset = sf.preset()
if not preset then return end
local file = sf.write_onsets(sf.temp_prefix() .. "onsets.json", span.position, span.length, onsets, regions)
sf.run("generate", { onsets = file, preset = preset, duration = span.length }, "rendering Foley",
  function(result)
    reaper.Undo_BeginBlock()
    sf.insert_wav(result.wav, span.position, "syncfoley Foley (" .. preset .. ")")
    reaper.Undo_EndBlock("syncfoley: generate Foley", -1)
    reaper.UpdateArrange()
  end, sf.fail)
