-- @description syncfoley: Foley for selected video item
-- @version 0.1.0
-- @author syncfoley
-- @about
--   Runs `syncfoley run` on the source of the selected video item (only the part
--   the item plays), then puts the Foley WAV on a new track and the onsets as a
--   MIDI item on another, both at the item's position, in one undo block.
--   Needs the `syncfoley` command on PATH (or set SYNCFOLEY_CLI in the environment).
--   Items with a play rate other than 1.0 are refused (the Foley would drift).

local function fail(msg)
  reaper.ShowMessageBox(msg, "syncfoley", 0)
end

local function quote(s)
  if reaper.GetOS():match("Win") then
    return '"' .. s:gsub('"', '\\"') .. '"'
  end
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local item = reaper.GetSelectedMediaItem(0, 0)
if not item then return fail("Select a video item first.") end
local take = reaper.GetActiveTake(item)
if not take or reaper.TakeIsMIDI(take) then return fail("The selected item has no audio/video take.") end

local source = reaper.GetMediaItemTake_Source(take)
local path = reaper.GetMediaSourceFileName(source, "")
local position = reaper.GetMediaItemInfo_Value(item, "D_POSITION")
local length = reaper.GetMediaItemInfo_Value(item, "D_LENGTH")
local offset = reaper.GetMediaItemTakeInfo_Value(take, "D_STARTOFFS")
local rate = reaper.GetMediaItemTakeInfo_Value(take, "D_PLAYRATE")
if math.abs(rate - 1.0) > 1e-6 then return fail("Play rate " .. rate .. " is not supported yet; set it to 1.0.") end

-- source_time = D_STARTOFFS + (project_time - D_POSITION) * D_PLAYRATE
local start_s, end_s = offset, offset + length * rate
local project_dir = reaper.GetProjectPath("")
local outdir = project_dir .. "/syncfoley"
reaper.RecursiveCreateDirectory(outdir, 0)
local cli = os.getenv("SYNCFOLEY_CLI") or "syncfoley"
local cmd = string.format("%s run %s -o %s --start %.6f --end %.6f --overwrite --quiet",
  cli, quote(path), quote(outdir), start_s, end_s)
local result = reaper.ExecProcess(cmd, 0)  -- 0: wait until it finishes
if not result then return fail("Could not start: " .. cmd) end
local code, output = result:match("^(%-?%d+)\n(.*)$")
if tonumber(code) ~= 0 then return fail("syncfoley failed:\n" .. (output or result)) end

local stem = path:match("([^/\\]+)%.[^.]*$") or path:match("([^/\\]+)$")
local wav = outdir .. "/" .. stem .. ".foley.wav"
local mid = outdir .. "/" .. stem .. ".onsets.mid"

reaper.Undo_BeginBlock()
reaper.PreventUIRefresh(1)
local index = reaper.GetMediaTrackInfo_Value(reaper.GetMediaItem_Track(item), "IP_TRACKNUMBER")
for i, file in ipairs({ wav, mid }) do
  reaper.InsertTrackAtIndex(index + i - 1, true)
  local track = reaper.GetTrack(0, index + i - 1)
  reaper.GetSetMediaTrackInfo_String(track, "P_NAME", i == 1 and "Foley" or "Onsets", true)
  reaper.SetOnlyTrackSelected(track)
  reaper.SetEditCurPos(position, false, false)
  reaper.InsertMedia(file, 0)
end
reaper.PreventUIRefresh(-1)
reaper.Undo_EndBlock("syncfoley: Foley for selected video item", -1)
reaper.UpdateArrange()
