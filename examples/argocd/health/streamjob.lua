-- Argo CD health of a runnel.dev StreamJob (resource.customizations.health.runnel.dev_StreamJob).
-- Argo CD runs it with gopher-lua (Lua 5.1): `obj` is the object, the result is {status, message}.
--   Progressing  the operator has not yet observed the latest spec (status.observedGeneration is
--                behind metadata.generation), or an action runs: deploy, upgrade, rescale, restart,
--                suspend, resume, rollback (status.pendingAction, or the phase naming it)
--   Degraded     phase Failed, or the Degraded or Stalled condition is True
--   Suspended    phase Suspended (spec.state: suspended, workers stopped with a savepoint)
--   Healthy      the Ready condition is True for the current generation, or phase Completed
-- A savepoint taken while the job runs leaves it Healthy: the job keeps running.
local hs = {}

local function condition(status, name)
  if status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == name then
      return c
    end
  end
  return nil
end

local function isTrue(c)
  return c ~= nil and c.status == "True"
end

local function firstMessage(...)
  for i = 1, select("#", ...) do
    local m = select(i, ...)
    if m ~= nil and m ~= "" then
      return m
    end
  end
  return ""
end

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

local phase = status.phase or ""
local ready = condition(status, "Ready")
local degraded = condition(status, "Degraded")
local stalled = condition(status, "Stalled")
local lastError = status.lastError or {}

if phase == "Failed" or isTrue(degraded) or isTrue(stalled) then
  hs.status = "Degraded"
  hs.message = firstMessage(
    isTrue(degraded) and degraded.message or nil,
    isTrue(stalled) and stalled.message or nil,
    lastError.message,
    "Phase " .. phase
  )
  return hs
end

if phase == "Suspended" then
  hs.status = "Suspended"
  hs.message = firstMessage(ready ~= nil and ready.message or nil, "Suspended with a savepoint")
  return hs
end

local action = status.pendingAction
if action ~= nil and action.type ~= "savepoint" then
  hs.status = "Progressing"
  hs.message = "Action " .. tostring(action.type)
  if action.step ~= nil then
    hs.message = hs.message .. ", step " .. action.step
  end
  return hs
end
local acting = {
  Pending = true, Deploying = true, Upgrading = true, Rescaling = true,
  Suspending = true, RollingBack = true,
}
if acting[phase] then
  hs.status = "Progressing"
  hs.message = "Phase " .. phase
  return hs
end

if phase == "Completed" then
  hs.status = "Healthy"
  hs.message = "Completed"
  return hs
end

local readyNow = isTrue(ready) and (ready.observedGeneration == nil or ready.observedGeneration >= generation)
if readyNow then
  hs.status = "Healthy"
  hs.message = firstMessage(ready.message, "Ready")
  if status.readyWorkers ~= nil then
    hs.message = hs.message .. " (workers " .. status.readyWorkers .. ")"
  end
  return hs
end

hs.status = "Progressing"
hs.message = "Waiting for Ready: " .. firstMessage(ready ~= nil and ready.message or nil, "phase " .. phase)
return hs
