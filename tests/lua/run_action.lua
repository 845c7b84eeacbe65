-- run_action.lua SCRIPT STATE.json OUT.json: run a syncfoley REAPER action against the mock,
-- pumping reaper.defer the way REAPER does (about 30 times a second), then write what it did.
local script, state_path, out_path = arg[1], arg[2], arg[3]
local socket = require("socket")
local here = arg[0]:match("^(.*[/\\])") or "./"
local lib = dofile(script:match("^(.*[/\\])") .. "syncfoley_lib.lua")
local f = assert(io.open(state_path, "rb"))
local state = assert(lib.json_decode(f:read("a")))
f:close()
local calls, queue, project, dump = dofile(here .. "mock_reaper.lua")(state, script, here)
dofile(script)
local deadline = socket.gettime() + (state.timeout or 120)
while #queue > 0 and socket.gettime() < deadline do
  local pending = {}
  for i, fn in ipairs(queue) do pending[i] = fn end
  for i = #queue, 1, -1 do queue[i] = nil end
  for _, fn in ipairs(pending) do fn() end  -- each may defer itself again into the same queue
  socket.sleep(0.03)
end
-- Empty lists must stay lists in the JSON.
local function arrays(t)
  if type(t) ~= "table" then return end
  if next(t) == nil then setmetatable(t, lib.array) end
  for _, v in pairs(t) do arrays(v) end
end
local tracks = dump()
for _, list in ipairs({ calls, tracks, project.markers, project.messages }) do
  arrays(list)
  if next(list) == nil then setmetatable(list, lib.array) end
end
local out = assert(io.open(out_path, "wb"))
out:write(lib.json_encode({ calls = calls, tracks = tracks, markers = project.markers,
                            messages = project.messages, unfinished = #queue }))
out:close()
