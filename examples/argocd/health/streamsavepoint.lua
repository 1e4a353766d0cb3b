-- Argo CD health of a runnel.dev StreamSavepoint (resource.customizations.health.runnel.dev_StreamSavepoint).
-- Argo CD runs it with gopher-lua (Lua 5.1): `obj` is the object, the result is {status, message}.
--   Progressing  not yet observed by the operator, or state Pending / InProgress
--   Healthy      state Completed (the Ready condition is True), or Disposed (removed on purpose)
--   Degraded     state Failed (status.error says why)
local hs = {}

local generation = 0
if obj.metadata ~= nil and obj.metadata.generation ~= nil then
  generation = obj.metadata.generation
end
local status = obj.status
if status == nil or status.observedGeneration == nil or status.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

local state = status.state or "Pending"
if state == "Completed" then
  hs.status = "Healthy"
  hs.message = "Savepoint at " .. tostring(status.location)
elseif state == "Disposed" then
  hs.status = "Healthy"
  hs.message = "Disposed"
elseif state == "Failed" then
  hs.status = "Degraded"
  hs.message = status.error or "Failed"
else
  hs.status = "Progressing"
  hs.message = "Savepoint " .. state
end
return hs
