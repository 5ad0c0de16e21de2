namespace Thaw.Service.Scheduling;

/// <summary>What a queued call is given: an idle sandbox, or a slot (counted already) to start one.</summary>
internal readonly record struct Handoff(WarmSandbox? Sandbox, Grant? Start);
