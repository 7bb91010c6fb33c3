-- Argo CD health of a PodPattern (resource.customizations.health.podpatterns.dev_PodPattern
-- in argocd-cm; see argocd-cm.yaml beside this file and docs/monitoring.md).
-- Reads the status the operator writes, the way kstatus does: a generation not yet seen or
-- Reconciling=True is Progressing, Stalled=True is Degraded, Ready=True is Healthy; a
-- suspended CronJob (Ready reason Suspended) is Suspended. Lua 5.1, as Argo CD's gopher-lua.
local hs = {}

local function condition(kind)
  if obj.status == nil or obj.status.conditions == nil then
    return nil
  end
  for _, item in ipairs(obj.status.conditions) do
    if item.type == kind then
      return item
    end
  end
  return nil
end

local function said(item, fallback)
  if item ~= nil and item.message ~= nil and item.message ~= "" then
    return item.message
  end
  if item ~= nil and item.reason ~= nil then
    return item.reason
  end
  return fallback
end

if obj.status == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report a status"
  return hs
end

local generation = obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

local stalled = condition("Stalled")
local degraded = condition("Degraded")
local valid = condition("Valid")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = said(stalled, "Stalled")
  return hs
end
-- Statuses written before Stalled existed say the same through Degraded and Valid.
if degraded ~= nil and degraded.status == "True" then
  hs.status = "Degraded"
  hs.message = said(degraded, "Degraded")
  return hs
end
if valid ~= nil and valid.status == "False" then
  hs.status = "Degraded"
  hs.message = said(valid, "the spec is refused")
  return hs
end

local reconciling = condition("Reconciling")
if reconciling ~= nil and reconciling.status == "True" then
  hs.status = "Progressing"
  hs.message = said(reconciling, "Reconciling")
  return hs
end

local ready = condition("Ready")
if ready ~= nil and ready.status == "True" then
  if ready.reason == "Suspended" then
    hs.status = "Suspended"
  else
    hs.status = "Healthy"
  end
  hs.message = said(ready, "Ready")
  return hs
end

hs.status = "Progressing"
hs.message = said(ready, "Waiting for the PodPattern to be Ready")
return hs
