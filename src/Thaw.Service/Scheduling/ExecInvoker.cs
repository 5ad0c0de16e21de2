using System.Diagnostics;
using Thaw.Runtimes;
using Thaw.Runtimes.Exec;
using Thaw.Runtimes.Python;
using Thaw.Sandboxes;
using Thaw.Service.Functions;
using Thaw.Service.Metrics;

namespace Thaw.Service.Scheduling;

/// <summary>
/// One call of an exec function, top to bottom: a slot from the handler cache (the function's
/// concurrency, its queue and the node's memory budget, as for a Python sandbox), a fresh sandbox
/// running its command with the event on stdin (<see cref="ExecRuntime"/>), the slot back. Every
/// call is cold; past its timeout the sandbox is killed (504); an OOM kill names the limit.
/// </summary>
public sealed class ExecInvoker(HandlerCache cache, ExecRuntime runtime, ThawMetrics metrics, Func<string, FunctionLog> logs)
{
    public async Task<CallResult> InvokeAsync(string function, ReadOnlyMemory<byte> eventJson, CancellationToken token)
    {
        long requested = Stopwatch.GetTimestamp();
        FunctionSlot slot;
        try
        {
            slot = await cache.AcquireSlotAsync(function, token).ConfigureAwait(false);
        }
        catch (Exception e) when (Invoker.CountedRefusal(metrics, e))
        {
            throw; // never: the filter only counts
        }
        var deployment = slot.Deployment;
        var log = logs(function);
        try
        {
            ExecRun run;
            try
            {
                run = await runtime.RunAsync(deployment.Manifest, deployment.CodeDir, eventJson, log.For(deployment.Version).Stderr).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SandboxException or Thaw.Sandboxes.Zygotes.ZygoteException or ArgumentException)
            {
                metrics.Invocation(function, cold: true, "start_failed");
                log.Note(deployment.Version, $"sandbox failed to start: {e.Message}");
                throw new CallFailedException(new FunctionStartException("sandbox", e.Message, inner: e), cold: true, deployment.Version, null,
                    CallFailedException.Total(Stopwatch.GetElapsedTime(requested).TotalMilliseconds));
            }
            var (sandbox, exit) = (run.Sandbox, run.Exit);
            if (exit.TimedOut)
            {
                metrics.Timeout(function);
                metrics.Invocation(function, cold: true, "timeout");
                log.Note(deployment.Version, $"call timed out after {Units.FormatDuration(deployment.Manifest.Timeout)}; sandbox {sandbox.Id} killed");
                throw new CallFailedException(new CallTimeoutException(function, deployment.Manifest.Timeout), cold: true, deployment.Version, sandbox.Id, Phases(slot, sandbox, exit, requested));
            }
            if (exit.OomKilled)
            {
                metrics.Invocation(function, cold: true, "out_of_memory");
                var gone = new SandboxGoneException(sandbox.Id, $"it ran out of memory (limit {deployment.Manifest.MemoryBytes >> 20} MiB) and was killed", SandboxFault.OutOfMemory);
                log.Note(deployment.Version, gone.Message);
                throw new CallFailedException(gone, cold: true, deployment.Version, sandbox.Id, Phases(slot, sandbox, exit, requested));
            }
            var invocation = run.Invocation;
            if (invocation.Error is { } error)
                log.Note(deployment.Version, $"{error.Type}: {error.Message}");
            var phases = Phases(slot, sandbox, exit, requested);
            Invoker.Record(metrics, function, cold: true, invocation.Succeeded ? "ok" : "handler_error", phases);
            return new CallResult(invocation, function, deployment.Version, sandbox.Id, Cold: true, Zygote: "none", phases);
        }
        finally
        {
            cache.ReleaseSlot(slot);
        }
    }

    /// <summary>An exec call's phases: its queue, the sandbox's claim and start, the program's run (call), the total.</summary>
    private static CallPhases Phases(FunctionSlot slot, Sandbox sandbox, SandboxExit exit, long requested)
    {
        var t = sandbox.Timings;
        double claim = SandboxTimings.Ms(t.Requested, t.Claimed), start = SandboxTimings.Ms(t.Requested, t.Started);
        return new CallPhases(slot.QueueMs, claim, Math.Max(0, start - claim), double.NaN, start, double.NaN,
            SandboxTimings.Ms(t.Started, exit.ExitedAt), double.NaN, Stopwatch.GetElapsedTime(requested).TotalMilliseconds);
    }
}
