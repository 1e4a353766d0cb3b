-- Argo CD health of an Argo CD Application (resource.customizations.health.argoproj.io_Application):
-- the child application's own health, so an app of apps waits for each sync wave to be Healthy
-- (the operator and its CRDs) before it syncs the next (the StreamJobs).
local hs = {}
hs.status = "Progressing"
hs.message = ""
if obj.status ~= nil and obj.status.health ~= nil and obj.status.health.status ~= nil then
  hs.status = obj.status.health.status
  if obj.status.health.message ~= nil then
    hs.message = obj.status.health.message
  end
end
return hs
