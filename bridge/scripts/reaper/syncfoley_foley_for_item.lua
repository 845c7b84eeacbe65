-- @noindex
-- syncfoley: Foley for selected video item
--
--   Detect onsets for the selected video item and render Foley on them in one go: the
--   onsets as a MIDI item on one new track, the Foley WAV on another, both in sync with
--   the item (start offset and play rate honoured), in one undo step. Detects with the
--   detector and sensitivity last chosen in the detect action's dialog (auto and 0.5 before).
--   Needs the engine daemon: syncfoley serve.
-- Installed by ReaPack with syncfoley_lib.lua (the package), which it loads.

local here = ({ reaper.get_action_context() })[2]:match("^(.*[/\\])")
local sf = dofile(here .. "syncfoley_lib.lua")

local info, err = sf.selected_item()
if not info then return sf.fail(err) end
if info.midi then return sf.fail("select a video item (this one is MIDI)") end
local preset = sf.preset()
if not preset then return end

local detector, sensitivity = sf.remembered_detection()
sf.run("detect", {
  video = info.file, start = sf.to_source(info, info.position),
  ["end"] = sf.to_source(info, info.position + info.length),
  -- A sensitivity that is not a number (ExtState edited by hand) is left to the engine's default.
  detector = detector, sensitivity = tonumber(sensitivity),
}, "detecting onsets", function(detected)
  local track = sf.json_decode(sf.read_file(detected.onsets_json) or "")
  if not track then return sf.fail("cannot read " .. tostring(detected.onsets_json)) end
  local onsets = {}
  for _, o in ipairs(track.onsets) do
    onsets[#onsets + 1] = { time = sf.to_project(info, o.time), strength = o.strength }
  end
  -- Rendered at project time, so a play rate other than 1 keeps every hit on its frame.
  local file = sf.write_onsets(sf.temp_prefix() .. "onsets.json", info.position, info.length, onsets, {})
  sf.run("generate", { onsets = file, preset = preset, duration = info.length }, "rendering Foley",
    function(result)
      reaper.Undo_BeginBlock()
      local dest = sf.new_track("syncfoley onsets")
      sf.onsets_item(dest, info.position, info.position + info.length, onsets, {}, nil,
        tonumber(sf.setting("note", "60")))
      sf.insert_wav(result.wav, info.position, "syncfoley Foley (" .. preset .. ")")
      reaper.Undo_EndBlock("syncfoley: Foley for item", -1)
      reaper.UpdateArrange()
    end, sf.fail)
end, sf.fail)
