-- @noindex
-- syncfoley: Detect onsets for selected video item
--
--   Finds the action onsets in the part of the source the selected video item plays
--   (start offset and play rate honoured) and adds them as a MIDI item on a new track:
--   one note per hit (velocity from strength), a longer note per contact region, the
--   intensity as CC 11. Asks which detector and how sensitive (remembered). Set ExtState
--   syncfoley/markers to "1" to add project markers too.
--   Needs the engine daemon: syncfoley serve.
-- Installed by ReaPack with syncfoley_lib.lua (the package), which it loads.

local here = ({ reaper.get_action_context() })[2]:match("^(.*[/\\])")
local sf = dofile(here .. "syncfoley_lib.lua")

local function add_onsets(info, track_result)
  local data = sf.read_file(track_result.onsets_json)
  local track = data and sf.json_decode(data)
  if not track then return sf.fail("cannot read " .. tostring(track_result.onsets_json)) end
  local onsets, regions = {}, {}
  for _, o in ipairs(track.onsets) do
    onsets[#onsets + 1] = { time = sf.to_project(info, o.time), strength = o.strength, confidence = o.confidence }
  end
  for _, r in ipairs(track.regions or {}) do
    local a, b = sf.to_project(info, r.start), sf.to_project(info, r["end"])
    regions[#regions + 1] = { start = math.min(a, b), ["end"] = math.max(a, b), strength = r.strength }
  end
  local env = nil
  if track.envelope and info.rate > 0 then
    env = { start = sf.to_project(info, track.envelope.start), rate = track.envelope.rate * info.rate,
            values = track.envelope.values }
  end
  reaper.Undo_BeginBlock()
  local dest = sf.new_track("syncfoley onsets")
  local item = sf.onsets_item(dest, info.position, info.position + info.length, onsets, regions, env,
    tonumber(sf.setting("note", "60")))
  if sf.setting("markers", "0") == "1" then
    -- Named as the engine names its markers (onset_label in engine/types.py), confidence included: at a high
    -- sensitivity the marker list shows which onsets are doubtful.
    for i, o in ipairs(onsets) do
      reaper.AddProjectMarker2(0, false, o.time, 0, string.format("onset %d (conf %.2f)", i, o.confidence or 1.0), -1, 0)
    end
  end
  reaper.Undo_EndBlock("syncfoley: detect onsets", -1)
  reaper.UpdateArrange()
  return item, onsets
end

local info, err = sf.selected_item()
if not info then return sf.fail(err) end
if info.midi then return sf.fail("select a video item (this one is MIDI)") end
local detector, sensitivity = sf.detect_settings()
if not detector then return end
sf.run("detect", {
  video = info.file, start = sf.to_source(info, info.position),
  ["end"] = sf.to_source(info, info.position + info.length),
  detector = detector, sensitivity = sensitivity,
}, "detecting onsets", function(result) add_onsets(info, result) end, sf.fail)
